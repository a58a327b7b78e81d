import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '@scoreline/platform';
import { Type } from 'typebox';
import type { AuthHook } from '../auth.js';
import { documentProblems } from '../openapi.js';
import { acceptsGzip, createPageCache, gzipEtag, gzipped, notModified } from '../page-cache.js';
import type { RateLimit } from '../rate-limit.js';
import type { StoredResponse } from '../../../data-access/idempotency-repository.js';
import type { Score } from '../../../domain/score.js';
import type { EventReads } from '../../../use-cases/event-reads.js';
import type { SubmitScore } from '../../../use-cases/submit-score.js';
import {
  EventIdParams,
  EventListSchema,
  IdempotencyHeaders,
  ListEventsQuery,
  SubmitScoreBody,
} from '../schemas.js';
import { decodeCursor, encodeCursor, eventBody, scoreBody } from '../views.js';

export interface EventRoutesDeps {
  events: EventReads;
  submitScore: SubmitScore;
  authenticate: AuthHook;
  scoreRateLimit: RateLimit;
  /** How long a served event or page stays fresh in this process (and for caches downstream). */
  freshnessMs: number;
}

const listErrors = documentProblems('VALIDATION_FAILED', 'INVALID_ARGUMENT', 'UNAVAILABLE');
const getErrors = documentProblems('BAD_REQUEST', 'VALIDATION_FAILED', 'EVENT_NOT_FOUND', 'UNAVAILABLE');
const submitErrors = documentProblems(
  'BAD_REQUEST',
  'MALFORMED_JSON',
  'UNAUTHENTICATED',
  'EVENT_NOT_FOUND',
  'EVENT_CLOSED',
  'SCORE_FINAL',
  'BODY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'VALIDATION_FAILED',
  'IDEMPOTENCY_KEY_REUSED',
);

/** The 202 to an accepted score; with an Idempotency-Key, stored and replayed as it is to retries. */
export function acceptedAnswer(score: Score): StoredResponse {
  return { statusCode: 202, body: scoreBody(score), location: `/scores/${score.id}` };
}

const states = { open: 'OPEN', closed: 'CLOSED', cancelled: 'CANCELLED', all: undefined } as const;

const cachingHeaders = {
  ETag: { type: 'string', description: 'A strong validator of this body: send it back in If-None-Match' },
  'Cache-Control': {
    type: 'string',
    description: 'public, max-age=<the freshness window in seconds>: events may be this stale anyway',
  },
};
const listingHeaders = {
  ...cachingHeaders,
  Vary: { type: 'string', description: 'accept-encoding: the listing may come gzip-coded' },
};
const ifNoneMatch = Type.Object({
  'if-none-match': Type.Optional(
    Type.String({ description: 'An ETag this API gave: 304 with no body if the response is the same' }),
  ),
});
const notModifiedResponse = {
  304: { description: 'Not modified: the ETag in If-None-Match is still current', headers: cachingHeaders },
};

export const eventRoutes =
  (deps: EventRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const pages = createPageCache({
      ttlMs: deps.freshnessMs,
      maxEntries: 1000,
      version: () => deps.events.version(),
    });
    const cacheControl = `public, max-age=${Math.floor(deps.freshnessMs / 1000)}`;

    app.get(
      '/events',
      {
        schema: {
          operationId: 'listEvents',
          summary: 'List events',
          description:
            'Open events by default; `state` filters, `cursor` pages. No token needed. ' +
            'Served from memory for the freshness window (see Cache-Control); with `If-None-Match`, 304 ' +
            'when the page has not changed. With `Accept-Encoding: gzip`, the page may come gzip-coded ' +
            '(`Content-Encoding: gzip`, an ETag of its own).',
          tags: ['events'],
          security: [],
          querystring: ListEventsQuery,
          headers: ifNoneMatch,
          response: {
            200: {
              description: 'A page of events',
              headers: listingHeaders,
              content: { 'application/json': { schema: EventListSchema } },
            },
            ...notModifiedResponse,
            ...listErrors.response,
          },
          ...listErrors.extensions,
        },
      },
      async (request, reply) => {
        const { state = 'open', limit = 50, cursor } = request.query;
        const key = `${state}:${limit}:${cursor ?? ''}`;
        const page =
          pages.get(key) ??
          (await pages.fill(key, async () => {
            const token = cursor === undefined ? '' : decodeCursor(cursor);
            if (typeof token !== 'string')
              throw new AppError('INVALID_ARGUMENT', 'cursor is not one this API issued', {
                field: 'query.cursor',
              });
            const found = await deps.events.list({ state: states[state], limit, pageToken: token });
            return {
              events: found.events.map(eventBody),
              next_cursor: found.nextPageToken ? encodeCursor(found.nextPageToken) : null,
            };
          }));
        // Clients that take gzip get the page compressed once (from its second request on): a page of
        // 50 events is about 15 KB as JSON and 2 KB gzipped, and writing it is most of what a GET costs.
        const gzip = acceptsGzip(request.headers['accept-encoding']) ? gzipped(page) : undefined;
        void reply
          .header('etag', gzip ? gzipEtag(page.etag) : page.etag)
          .header('cache-control', cacheControl)
          .header('vary', 'accept-encoding');
        if (notModified(request.headers['if-none-match'], page.etag, gzipEtag(page.etag))) {
          return reply.code(304).send();
        }
        if (gzip) void reply.header('content-encoding', 'gzip');
        // Already serialised: sent as it is, without the response schema's serialiser.
        return reply
          .code(200)
          .type('application/json; charset=utf-8')
          .send(gzip ?? page.body);
      },
    );

    app.get(
      '/events/:event_id',
      {
        schema: {
          operationId: 'getEvent',
          summary: 'Get one event',
          description:
            'Served from memory for the freshness window (see Cache-Control); with `If-None-Match`, 304 ' +
            'when the event has not changed.',
          tags: ['events'],
          security: [],
          params: EventIdParams,
          headers: ifNoneMatch,
          response: {
            200: {
              description: 'The event',
              headers: cachingHeaders,
              content: { 'application/json': { schema: Type.Ref('Event') } },
            },
            ...notModifiedResponse,
            ...getErrors.response,
          },
          ...getErrors.extensions,
        },
      },
      async (request, reply) => {
        const event = await deps.events.get(request.params.event_id);
        // Every change to an event raises its version: (id, version) identifies the body exactly.
        const etag = `"${event.id}.${event.version}"`;
        void reply.header('etag', etag).header('cache-control', cacheControl);
        if (notModified(request.headers['if-none-match'], etag)) return reply.code(304).send();
        return eventBody(event);
      },
    );

    app.post(
      '/events/:event_id/score',
      {
        onRequest: deps.authenticate,
        config: { rateLimit: deps.scoreRateLimit },
        schema: {
          operationId: 'submitScore',
          summary: 'Score an event (1–5)',
          description:
            'Accepts the score and starts its saga: 202 with the score, PENDING until line-provider confirms it. ' +
            'One score per user and event: posting again changes it (a new version) until the event closes. ' +
            'With an `Idempotency-Key`, a retry of the same request returns the first answer.',
          tags: ['scores'],
          security: [{ bearerAuth: [] }],
          params: EventIdParams,
          headers: IdempotencyHeaders,
          body: SubmitScoreBody,
          response: {
            202: {
              description: 'Accepted: the score, PENDING until its saga settles',
              headers: {
                Location: {
                  type: 'string',
                  format: 'uri-reference',
                  required: true,
                  description: 'The score: /scores/{id}',
                },
              },
              content: { 'application/json': { schema: Type.Ref('Score') } },
            },
            ...submitErrors.response,
          },
          ...submitErrors.extensions,
        },
      },
      async (request, reply) => {
        const userId = request.userId!;
        const eventId = request.params.event_id;
        const key = request.headers['idempotency-key'];
        const requestHash = createHash('sha256')
          .update(`POST ${eventId} ${JSON.stringify(request.body)}`)
          .digest('hex');
        const outcome = await deps.submitScore({
          userId,
          eventId,
          rate: request.body.score,
          idempotency: key ? { key, requestHash } : undefined,
        });
        const answer = outcome.kind === 'replayed' ? outcome.answer : acceptedAnswer(outcome.score);
        if (answer.location) void reply.header('location', answer.location);
        // Only 202s are stored and replayed (see submit-score.ts).
        return reply.code(answer.statusCode as 202).send(answer.body);
      },
    );
  };
