import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { Type } from 'typebox';
import { problemCodes, problemTypes, problemTypeUri, type ProblemCode } from './problem-types.js';

/** Every documented operation can meet these, whatever it does: the limiter, a fault, a shutdown. */
const everywhere: ProblemCode[] = ['RATE_LIMITED', 'INTERNAL', 'UNAVAILABLE'];

const retryAfter = {
  'Retry-After': {
    type: 'integer',
    minimum: 1,
    required: true,
    description: 'Seconds to wait before retrying',
  },
};

/**
 * An operation's error responses, from the codes it can answer with (plus those of every operation):
 * one response per status, `application/problem+json` with the shared Problem schema, its description
 * naming each code; and the codes again as `x-problem-codes`, for tools.
 */
export function documentProblems(...codes: ProblemCode[]) {
  const all = problemCodes.filter((code) => codes.includes(code) || everywhere.includes(code));
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of all) {
    const { status } = problemTypes[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const response = Object.fromEntries(
    [...byStatus].map(([status, statusCodes]) => [
      status,
      {
        description: statusCodes
          .map((code) => `- [\`${code}\`](${problemTypeUri(code)}): ${problemTypes[code].meaning}`)
          .join('\n'),
        content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
        ...(status === 429 || status === 503 ? { headers: retryAfter } : {}),
      },
    ]),
  );
  return { response, extensions: { 'x-problem-codes': all } };
}

/** @fastify/swagger's options: the document's own parts; the operations come from the routes' schemas. */
export const openApiOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: '3.0.3',
    info: {
      title: 'Scoreline score-maker API',
      version: '1.0.0',
      description:
        'Scores (1–5) for events. Scores are accepted at once (202) and confirmed by line-provider through a saga; ' +
        'follow `GET /scores/{score_id}` from PENDING to CONFIRMED or REJECTED.\n\n' +
        'Errors are RFC 9457 `application/problem+json` with a stable `code`; each operation lists its codes ' +
        '(also as `x-problem-codes`), and every problem `type` links to a page describing its code ' +
        '(all of them: [/problems](/problems)).',
    },
    servers: [{ url: '/', description: 'The server this document is served from' }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    tags: [
      { name: 'events', description: 'Events (from line-provider, cached)' },
      { name: 'scores', description: 'Your scores' },
      { name: 'problems', description: 'What each error `code` means and what to do about it' },
    ],
  },
  transformObject: (documentObject) => {
    const document = 'openapiObject' in documentObject ? documentObject.openapiObject : {};
    liftRequiredHeaders(document as Document);
    return document;
  },
  refResolver: {
    buildLocalReference: (json, _baseUri, _fragment, i) =>
      typeof json.$id === 'string' ? json.$id : `def-${i}`,
  },
};

interface Document {
  paths?: Record<
    string,
    Record<string, { responses?: Record<string, { headers?: Record<string, Header> }> }>
  >;
}
interface Header {
  required?: boolean;
  schema?: { required?: unknown };
}

/** @fastify/swagger leaves a response header's `required: true` inside its schema; OpenAPI wants it beside. */
function liftRequiredHeaders(document: Document): void {
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(pathItem)) {
      for (const response of Object.values(operation.responses ?? {})) {
        for (const header of Object.values(response.headers ?? {})) {
          if (header.schema?.required !== true) continue;
          delete header.schema.required;
          header.required = true;
        }
      }
    }
  }
}
