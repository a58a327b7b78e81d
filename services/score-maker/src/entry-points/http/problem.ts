import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError, type AppErrorCode, type Logger } from '@scoreline/platform';
import { isProblemCode, problemTypes, problemTypeUri, type ProblemCode } from './problem-types.js';
import { validationProblems } from './validation-messages.js';

/** RFC 9457 problem details. `code` is stable: clients branch on it, never on `title` or `detail`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  detail: string;
  instance?: string;
  errors?: { field: string; message: string }[];
}

/** A problem of this code: status, title and type come from its one definition. */
export function problem(
  code: ProblemCode,
  detail: string,
  extra: Partial<Pick<Problem, 'instance' | 'errors'>> = {},
): Problem {
  const { status, title } = problemTypes[code];
  return { type: problemTypeUri(code), title, status, code, detail, ...extra };
}

/**
 * The request's path and query as `instance`, made a valid URI reference: what the client sent may hold
 * a stray `%` or characters a URI does not allow, and those are percent-encoded.
 */
export function instanceOf(request: FastifyRequest): string {
  return request.url.replace(/%(?![0-9A-Fa-f]{2})|[^\w\-.~:/?#@!$&'()*+,;=%]/g, (c) => encodeURIComponent(c));
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  if (p.status === 429 || p.status === 503) {
    // Both tell the client to come back later; the rate limiter sets its own, longer, value.
    if (!reply.hasHeader('retry-after')) void reply.header('retry-after', '1');
  }
  return reply.code(p.status).type('application/problem+json').send(p);
}

/**
 * Requests Node's HTTP parser refuses never reach a route: headers over 16 KiB, a request line or header
 * that is not HTTP, a Content-Length that is not a number, a request not received in time. They are
 * answered here, as BAD_REQUEST problems like every other request malformed at the HTTP level (Fastify's
 * own answer is a JSON body of its own shape, with 431 or 408 for some), and the connection is closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const detail =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'the request line and headers are larger than 16 KiB'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'the request was not received in time'
        : `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`;
  const body = JSON.stringify(problem('BAD_REQUEST', detail));
  if (socket.writable) {
    socket.write(
      'HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * The problem each application error answers with; null: not the client's doing, a logged 500 INTERNAL
 * with no internals (the general codes only line-provider's gRPC edge has a status for).
 */
const problemByAppError: Record<AppErrorCode, ProblemCode | null> = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: null,
  ABORTED: null,
  FAILED_PRECONDITION: null,
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: null,
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: null,
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  EVENT_NOT_FOUND: 'EVENT_NOT_FOUND',
  SCORE_NOT_FOUND: 'SCORE_NOT_FOUND',
  EVENT_CLOSED: 'EVENT_CLOSED',
  SCORE_FINAL: 'SCORE_FINAL',
  FORBIDDEN: 'FORBIDDEN',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
};

/** Fastify's own errors (parsing, limits) by their code. */
const fastifyCodes: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
};

/** Other client errors (plugins, static files) by status; any other 4xx is a BAD_REQUEST. */
const byStatus: Partial<Record<number, ProblemCode>> = {
  404: 'NOT_FOUND',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/**
 * The one place errors become HTTP. Validation and client errors keep their message; anything else is
 * logged with the request id and answered 500 with no internals.
 */
export function errorHandler(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const instance = instanceOf(request);
    if (error.validation) {
      const errors = validationProblems(error.validation, error.validationContext);
      const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      return sendProblem(reply, problem('VALIDATION_FAILED', detail, { instance, errors }));
    }
    if (isAppError(error, 'UNAVAILABLE')) {
      // Dependency failures are logged with their cause; the client learns only that it may retry.
      logger.warn({ err: error, reqId: request.id, url: request.url }, 'dependency unavailable');
      const detail = 'a service this API depends on is unavailable; retry shortly';
      return sendProblem(reply, problem('UNAVAILABLE', detail, { instance }));
    }
    const appProblem = isAppError(error) ? problemByAppError[error.code] : null;
    if (isAppError(error) && appProblem && problemTypes[appProblem].status < 500) {
      const errors = error.field ? [{ field: error.field, message: error.message }] : undefined;
      return sendProblem(reply, problem(appProblem, error.message, { instance, errors }));
    }
    const known = error.code ? fastifyCodes[error.code] : undefined;
    if (known) return sendProblem(reply, problem(known, error.message, { instance }));
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      // Plugins' own client errors (the rate limiter's RATE_LIMITED) keep their code.
      const code = isProblemCode(error.code) ? error.code : (byStatus[error.statusCode] ?? 'BAD_REQUEST');
      return sendProblem(reply, problem(code, error.message, { instance }));
    }
    logger.error({ err: error, reqId: request.id, url: request.url }, 'request failed');
    return sendProblem(reply, problem('INTERNAL', `internal error (request ${request.id})`, { instance }));
  };
}
