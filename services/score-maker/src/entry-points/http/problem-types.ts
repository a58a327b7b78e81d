/** Bodies over this size are refused (BODY_TOO_LARGE) before they are parsed. */
export const BODY_LIMIT_BYTES = 16 * 1024;

export interface ProblemType {
  status: number;
  /** Short and the same for every occurrence (RFC 9457 `title`); the occurrence's own words go in `detail`. */
  title: string;
  /** When it happens. */
  meaning: string;
  /** What the client should do about it. */
  action: string;
}

/**
 * Every problem the API answers with, by its stable `code`. The one definition: the error handler takes
 * status and title from here, the OpenAPI document lists each operation's codes from here, and the
 * `/problems` pages that problem `type` links point to are rendered from here.
 */
export const problemTypes = {
  BAD_REQUEST: {
    status: 400,
    title: 'Bad request',
    meaning:
      'The request is malformed at the HTTP level: a path that is not valid percent-encoding, or a ' +
      'Content-Length that does not match the body.',
    action: 'Fix the request; sending it again unchanged fails again.',
  },
  MALFORMED_JSON: {
    status: 400,
    title: 'Malformed JSON',
    meaning: 'The body is declared as `application/json` but is empty or not valid JSON.',
    action: 'Send a valid JSON document, such as `{"score": 4}`.',
  },
  UNAUTHENTICATED: {
    status: 401,
    title: 'Authentication required',
    meaning:
      'The operation acts for a user, and the request has no bearer token, or one that is malformed, ' +
      'expired, wrongly signed or unsigned.',
    action: 'Send `Authorization: Bearer <jwt>` with a valid token; get a new one when it has expired.',
  },
  FORBIDDEN: {
    status: 403,
    title: 'Forbidden',
    meaning:
      "The operation is for administrators (the operations console), and the token's role claim " +
      '(`ADMIN_ROLE_CLAIM`) does not hold the admin role (`ADMIN_ROLE`).',
    action: 'Use a token your identity provider issued with the admin role.',
  },
  NOT_FOUND: {
    status: 404,
    title: 'Not found',
    meaning: 'No route answers this method and path, or there is no problem type of this code.',
    action: 'Check the method and path against the API reference at `/docs`.',
  },
  EVENT_NOT_FOUND: {
    status: 404,
    title: 'Event not found',
    meaning: 'No event has this id.',
    action: 'Use the id of an event listed by `GET /events`.',
  },
  SCORE_NOT_FOUND: {
    status: 404,
    title: 'Score not found',
    meaning:
      'You have no score with this id: it does not exist, or it belongs to another user (the two answer ' +
      'alike, so ids reveal nothing).',
    action:
      "Use the id from the score's `Location` header or `GET /me/scores`, with the token of the user who scored.",
  },
  EVENT_CLOSED: {
    status: 409,
    title: 'Event closed',
    meaning: 'The event no longer takes scores: its deadline has passed, or it was closed or cancelled.',
    action: 'Do not retry; score an open event (`GET /events`).',
  },
  SCORE_FINAL: {
    status: 409,
    title: 'Score final',
    meaning: 'Your score for this event is final: the event has closed, so the score can no longer change.',
    action: 'Do not retry; read the final score with `GET /scores/{score_id}`.',
  },
  BODY_TOO_LARGE: {
    status: 413,
    title: 'Body too large',
    meaning: `The body is larger than ${BODY_LIMIT_BYTES / 1024} KiB.`,
    action: 'Send only the documented fields, such as `{"score": 4}`.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported media type',
    meaning: 'The body is not declared as `application/json`.',
    action: 'Send the body as JSON with `Content-Type: application/json`.',
  },
  VALIDATION_FAILED: {
    status: 422,
    title: 'Validation failed',
    meaning:
      'A path parameter, query parameter, header or body field is missing, not allowed, of the wrong type ' +
      'or out of range. `errors` has one entry per field at fault, naming what it accepts.',
    action: 'Fix each field listed in `errors`; sending the request again unchanged fails again.',
  },
  INVALID_ARGUMENT: {
    status: 422,
    title: 'Invalid argument',
    meaning:
      'A value has the right form but cannot be used: a `cursor` this API did not issue for this listing.',
    action: 'Start the listing again without `cursor`, then pass only the `next_cursor` values it returns.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: 'Idempotency key reused',
    meaning: 'This `Idempotency-Key` was used in the last 24 hours with a different request.',
    action:
      'Use a new key for each distinct request; send exactly the same request again to get its first answer.',
  },
  RATE_LIMITED: {
    status: 429,
    title: 'Rate limited',
    meaning:
      'Too many requests in the last minute from this user (or this address, without a token); scores ' +
      'have a limit of their own.',
    action: 'Wait the number of seconds in the `Retry-After` header, then retry.',
  },
  INTERNAL: {
    status: 500,
    title: 'Internal error',
    meaning: 'The API failed unexpectedly. The detail names the request id; the cause is in the server log.',
    action: 'Retry later; if it keeps happening, report the request id.',
  },
  UNAVAILABLE: {
    status: 503,
    title: 'Service unavailable',
    meaning:
      'A service this API depends on (line-provider) did not answer, or this API instance is shutting down.',
    action: 'Retry after the seconds in the `Retry-After` header.',
  },
} as const satisfies Record<string, ProblemType>;

export type ProblemCode = keyof typeof problemTypes;

export const problemCodes = Object.keys(problemTypes) as ProblemCode[];

export function isProblemCode(code: unknown): code is ProblemCode {
  return typeof code === 'string' && Object.hasOwn(problemTypes, code);
}

/** Where a code is described: `type` of its problems, resolved against the API's own address. */
export function problemTypeUri(code: ProblemCode): string {
  return `/problems/${code}`;
}
