import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '@scoreline/platform';
import type { AuthHook } from '../auth.js';
import type { LiveUpdates } from '../live-updates.js';
import { documentProblems } from '../openapi.js';

export interface StreamRoutesDeps {
  live: LiveUpdates;
  authenticate: AuthHook;
}

const LastEventIdHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({
      maxLength: 100,
      description: 'The `id` of the last message received: the stream resumes after it (browsers send it).',
    }),
  ),
});

const streamResponse = (description: string) => ({
  description,
  content: {
    'text/event-stream': {
      schema: {
        type: 'string',
        description:
          'Server-Sent Events: `retry`, then messages with `id`, `event` and one line of JSON `data`; a ' +
          '`: keep-alive` comment every STREAM_HEARTBEAT.',
      },
    },
  },
});

const scoresErrors = documentProblems('UNAUTHENTICATED', 'VALIDATION_FAILED');
const eventsErrors = documentProblems('VALIDATION_FAILED');

const full = () =>
  new AppError('UNAVAILABLE', 'this API instance holds its most live streams; retry on another', {});

/** Server-Sent Events: a user's scores as their sagas settle, and changes to events. */
export const streamRoutes =
  (deps: StreamRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/me/scores/stream',
      {
        // No HEAD: a stream's head is only sent with its first message, which HEAD never writes, so a
        // HEAD request would hold a connection and a stream's place without an answer.
        exposeHeadRoute: false,
        onRequest: deps.authenticate,
        schema: {
          operationId: 'streamMyScores',
          summary: 'My scores, live (Server-Sent Events)',
          description:
            'A `score` message (the Score, as `GET /scores/{score_id}` answers it) each time one of your ' +
            'scores settles or becomes final, pushed as it happens. Starts with `ready`. Reconnect with ' +
            '`Last-Event-ID` to get the scores changed meanwhile; a `reset` message means too much was ' +
            'missed: reload `GET /me/scores`. Needs `Authorization: Bearer`, so browsers read it with ' +
            '`fetch` (EventSource cannot send headers). Answers 503 while the instance holds ' +
            'STREAM_MAX_CONNECTIONS streams.',
          tags: ['scores'],
          security: [{ bearerAuth: [] }],
          headers: LastEventIdHeaders,
          response: {
            200: streamResponse('The stream of your score changes'),
            ...scoresErrors.response,
          },
          ...scoresErrors.extensions,
        },
      },
      async (request, reply) => {
        if (!deps.live.hasRoom()) throw full();
        reply.hijack();
        await deps.live.openScores(reply.raw, request.userId!, request.headers['last-event-id']);
      },
    );

    app.get(
      '/events/stream',
      {
        exposeHeadRoute: false,
        schema: {
          operationId: 'streamEvents',
          summary: 'Event changes, live (Server-Sent Events)',
          description:
            'An `event` message (the Event, as `GET /events/{event_id}` answers it) each time an event is ' +
            'created or changes: scores confirmed, closed, cancelled. Starts with `ready`. No token needed; ' +
            'works with EventSource. Reconnect with `Last-Event-ID` to get what was missed; a `reset` message ' +
            'means it cannot be replayed: reload `GET /events`. Answers 503 while the instance holds ' +
            'STREAM_MAX_CONNECTIONS streams.',
          tags: ['events'],
          security: [],
          headers: LastEventIdHeaders,
          response: {
            200: streamResponse('The stream of event changes'),
            ...eventsErrors.response,
          },
          ...eventsErrors.extensions,
        },
      },
      async (request, reply) => {
        if (!deps.live.hasRoom()) throw full();
        reply.hijack();
        deps.live.openEvents(reply.raw, request.headers['last-event-id']);
      },
    );
  };
