import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError, type Logger } from '@scoreline/platform';

/** RFC 9457 problem details. `code` is stable: clients branch on it, never on `title` or `detail`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  errors?: { field: string; message: string }[];
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `/docs#problem-${code.toLowerCase()}`,
    title: titles[status] ?? 'Error',
    status,
    code,
    detail,
    ...extra,
  };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p);
}

/** The application's own errors, by code, as HTTP. */
const appStatus: Record<string, number> = {
  INVALID_ARGUMENT: 422,
  NOT_FOUND: 404,
  EVENT_NOT_FOUND: 404,
  SCORE_NOT_FOUND: 404,
  EVENT_CLOSED: 409,
  SCORE_FINAL: 409,
  CONFLICT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_KEY_INVALID: 422,
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
};

/** Fastify's own errors (parsing, limits) by their code. */
const fastifyCodes: Record<string, [number, string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'MALFORMED_JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'MALFORMED_JSON'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'BAD_REQUEST'],
};

/**
 * The one place errors become HTTP. Validation and client errors keep their message; anything else is
 * logged with the request id and answered 500 with no internals.
 */
export function errorHandler(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const instance = request.url;
    if (error.validation) {
      const errors = error.validation.map((v) => ({
        field: fieldOf(error.validationContext, v.instancePath, v.params),
        message: v.message ?? 'is invalid',
      }));
      const summary = errors.map((e) => `${e.field} ${e.message}`).join('; ');
      return sendProblem(reply, problem(422, 'VALIDATION_FAILED', summary, { instance, errors }));
    }
    if (isAppError(error)) {
      const status = appStatus[error.code];
      if (status && status >= 500) {
        // Dependency failures are logged with their cause; the client learns only that it may retry.
        logger.warn({ err: error, reqId: request.id, url: request.url }, 'dependency unavailable');
        void reply.header('retry-after', '1');
        return sendProblem(
          reply,
          problem(status, error.code, 'a service this API depends on is unavailable; retry shortly', {
            instance,
          }),
        );
      }
      if (status) {
        const errors = error.field ? [{ field: error.field, message: error.message }] : undefined;
        return sendProblem(
          reply,
          problem(status, error.code, error.message, { instance, errors, ...error.details }),
        );
      }
    }
    const known = error.code ? fastifyCodes[error.code] : undefined;
    if (known) return sendProblem(reply, problem(known[0], known[1], error.message, { instance }));
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      // Plugins' own client errors (the rate limiter's RATE_LIMITED) keep their code.
      const code = error.code && !error.code.startsWith('FST_') ? error.code : 'BAD_REQUEST';
      return sendProblem(reply, problem(error.statusCode, code, error.message, { instance }));
    }
    logger.error({ err: error, reqId: request.id, url: request.url }, 'request failed');
    return sendProblem(
      reply,
      problem(500, 'INTERNAL', `internal error (request ${request.id})`, { instance }),
    );
  };
}

function fieldOf(context: string | undefined, path: string, params: Record<string, unknown>): string {
  const base = (path || '').replace(/^\//, '').replace(/\//g, '.');
  const extra = typeof params.additionalProperty === 'string' ? params.additionalProperty : undefined;
  const missing = typeof params.missingProperty === 'string' ? params.missingProperty : undefined;
  const name = [base, extra ?? missing].filter(Boolean).join('.');
  return `${context ?? 'request'}${name ? `.${name}` : ''}`;
}
