import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, type Database } from '@scoreline/platform';
import type { ScoreRepository } from '../../../data-access/score-repository.js';
import type { AuthHook } from '../auth.js';
import { documentProblems } from '../openapi.js';
import { PageQuery, ScoreIdParams, ScoreListSchema } from '../schemas.js';
import { MAX_WAIT_SECONDS, preferredWait, type SettlementWaits } from '../settlement-waits.js';
import { decodeCursor, encodeCursor, scoreBody } from '../views.js';

export interface ScoreRoutesDeps {
  db: Database;
  scores: ScoreRepository;
  authenticate: AuthHook;
  /** Requests waiting for a settlement (Prefer: wait); without it the preference is ignored. */
  waits?: SettlementWaits;
}

const PreferHeaders = Type.Object({
  prefer: Type.Optional(
    Type.String({
      description:
        `RFC 7240. \`wait=N\` (seconds, at most ${MAX_WAIT_SECONDS}): while the score is PENDING, answer ` +
        'as soon as its saga settles it, or after N seconds with the score as it is then.',
      examples: ['wait=10'],
    }),
  ),
});

const getErrors = documentProblems('BAD_REQUEST', 'UNAUTHENTICATED', 'VALIDATION_FAILED', 'SCORE_NOT_FOUND');
const listErrors = documentProblems('UNAUTHENTICATED', 'VALIDATION_FAILED', 'INVALID_ARGUMENT');

export const scoreRoutes =
  (deps: ScoreRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/scores/:score_id',
      {
        onRequest: deps.authenticate,
        schema: {
          operationId: 'getScore',
          summary: "A score and its saga's state",
          description:
            "Only the score's owner sees it; for anyone else it does not exist (404). " +
            'With `Prefer: wait=N`, a PENDING score is answered when its saga settles it (woken by the ' +
            'settlement, not by polling) or after N seconds, whichever comes first.',
          tags: ['scores'],
          security: [{ bearerAuth: [] }],
          params: ScoreIdParams,
          headers: PreferHeaders,
          response: {
            200: {
              description: 'The score',
              headers: {
                'Preference-Applied': {
                  type: 'string',
                  description: 'wait=N when the request carried Prefer: wait (N as honoured, at most 30)',
                },
              },
              content: { 'application/json': { schema: Type.Ref('Score') } },
            },
            ...getErrors.response,
          },
          ...getErrors.extensions,
        },
      },
      async (request, reply) => {
        const id = request.params.score_id;
        const read = async () => {
          const score = await deps.scores.get(deps.db, id);
          // Someone else's score answers exactly like a missing one: ids reveal nothing.
          if (!score || score.userId !== request.userId) {
            throw new AppError('SCORE_NOT_FOUND', `score ${id} not found`);
          }
          return score;
        };
        void reply.header('vary', 'Prefer');
        const wait = deps.waits ? preferredWait(request.headers.prefer) : undefined;
        if (!deps.waits || wait === undefined) return scoreBody(await read());
        const until = Date.now() + wait * 1000;
        const waiter = deps.waits.register(id);
        let gone = false;
        const onClose = () => {
          gone = true;
          waiter.release();
        };
        // A client that hangs up stops the wait.
        reply.raw.once('close', onClose);
        try {
          let score = await read();
          while (score.status === 'PENDING' && !gone && !deps.waits.closed) {
            const left = until - Date.now();
            if (left <= 0) break;
            await waiter.next(left);
            score = await read();
          }
          void reply.header('preference-applied', `wait=${wait}`);
          return scoreBody(score);
        } finally {
          reply.raw.off('close', onClose);
          waiter.release();
        }
      },
    );

    app.get(
      '/me/scores',
      {
        onRequest: deps.authenticate,
        schema: {
          operationId: 'listMyScores',
          summary: 'My scores, newest first',
          tags: ['scores'],
          security: [{ bearerAuth: [] }],
          querystring: PageQuery,
          response: { 200: ScoreListSchema, ...listErrors.response },
          ...listErrors.extensions,
        },
      },
      async (request) => {
        const { limit = 50, cursor } = request.query;
        let beforeSeq: number | undefined;
        if (cursor !== undefined) {
          const c = decodeCursor(cursor);
          if (typeof c !== 'number' || !Number.isSafeInteger(c)) {
            throw new AppError('INVALID_ARGUMENT', 'cursor is not one this API issued', {
              field: 'query.cursor',
            });
          }
          beforeSeq = c;
        }
        const rows = await deps.scores.listByUser(deps.db, request.userId!, { limit: limit + 1, beforeSeq });
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return {
          scores: page.map(scoreBody),
          next_cursor: rows.length > limit && last ? encodeCursor(last.seq) : null,
        };
      },
    );
  };
