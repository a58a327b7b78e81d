import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, type Database } from '@scoreline/platform';
import type { ScoreRepository } from '../../../data-access/score-repository.js';
import type { AuthHook } from '../auth.js';
import { documentProblems } from '../openapi.js';
import { PageQuery, ScoreIdParams, ScoreListSchema } from '../schemas.js';
import { decodeCursor, encodeCursor, scoreBody } from '../views.js';

export interface ScoreRoutesDeps {
  db: Database;
  scores: ScoreRepository;
  authenticate: AuthHook;
}

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
          description: "Only the score's owner sees it; for anyone else it does not exist (404).",
          tags: ['scores'],
          security: [{ bearerAuth: [] }],
          params: ScoreIdParams,
          response: { 200: Type.Ref('Score'), ...getErrors.response },
          ...getErrors.extensions,
        },
      },
      async (request) => {
        const score = await deps.scores.get(deps.db, request.params.score_id);
        // Someone else's score answers exactly like a missing one: ids reveal nothing.
        if (!score || score.userId !== request.userId) {
          throw new AppError('SCORE_NOT_FOUND', `score ${request.params.score_id} not found`);
        }
        return scoreBody(score);
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
