import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '@scoreline/platform';
import { documentProblems } from '../openapi.js';
import { problemTypeBody, problemsPage } from '../problem-page.js';
import { isProblemCode, problemCodes } from '../problem-types.js';

/** HTML for people (and browsers, and curl's `*\/*`), JSON for clients that ask for it. */
function prefersJson(accept: string | undefined): boolean {
  let json = 0;
  let html = 0;
  for (const part of (accept ?? '').split(',')) {
    const [media = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) || 0 : 1;
    if (media === 'application/json') json = Math.max(json, q);
    if (media === 'text/html' || media === 'text/*' || media === '*/*') html = Math.max(html, q);
  }
  return json > html;
}

const htmlOr = (json: object, description: string) => ({
  description,
  content: { 'text/html': { schema: Type.String() }, 'application/json': { schema: json } },
});

/** The pages problem `type` links point to: what each code means and what to do about it. */
export const problemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const listErrors = documentProblems();
  app.get(
    '/problems',
    {
      schema: {
        operationId: 'listProblemTypes',
        summary: 'Every error code',
        description:
          'Each `code` with its status, meaning and what to do: HTML, or JSON with `Accept: application/json`.',
        tags: ['problems'],
        security: [],
        response: {
          200: htmlOr(Type.Object({ problems: Type.Array(Type.Ref('ProblemType')) }), 'The problem types'),
          ...listErrors.response,
        },
        ...listErrors.extensions,
      },
    },
    async (request, reply) => {
      void reply.header('vary', 'accept');
      if (prefersJson(request.headers.accept)) return { problems: problemCodes.map(problemTypeBody) };
      return reply.type('text/html; charset=utf-8').send(problemsPage(problemCodes, 'Problem types'));
    },
  );

  const oneErrors = documentProblems('BAD_REQUEST', 'NOT_FOUND');
  app.get(
    '/problems/:code',
    {
      schema: {
        operationId: 'getProblemType',
        summary: 'One error code',
        description: 'What a problem `type` link opens: HTML, or JSON with `Accept: application/json`.',
        tags: ['problems'],
        security: [],
        params: Type.Object({ code: Type.String({ description: 'A problem `code`, e.g. EVENT_CLOSED' }) }),
        response: { 200: htmlOr(Type.Ref('ProblemType'), 'The problem type'), ...oneErrors.response },
        ...oneErrors.extensions,
      },
    },
    async (request, reply) => {
      const { code } = request.params;
      if (!isProblemCode(code)) {
        throw new AppError('NOT_FOUND', 'no problem type has this code; /problems lists them all');
      }
      void reply.header('vary', 'accept');
      if (prefersJson(request.headers.accept)) return problemTypeBody(code);
      return reply.type('text/html; charset=utf-8').send(problemsPage([code], code));
    },
  );
};
