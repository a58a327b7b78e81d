import { Type, type Static, type TSchemaOptions } from 'typebox';
import { problemCodes } from './problem-types.js';

/** Schemas for every request and response: they validate, serialise and document (OpenAPI) at once. */

/** A string of one of these values: `enum`, which reads better than a union of literals in OpenAPI 3.0. */
export const StringEnum = <const T extends readonly string[]>(values: T, options: TSchemaOptions = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

export const ProblemSchema = Type.Object(
  {
    type: Type.String({
      format: 'uri-reference',
      description:
        "The problem type: a page describing the code (`/problems/{code}`), relative to the API's address",
    }),
    title: Type.String({
      description: 'Summary of the problem type; the same for every occurrence of a code',
    }),
    status: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status code' }),
    code: StringEnum(problemCodes, {
      description: 'Stable machine-readable error code: branch on it, never on `title` or `detail`',
    }),
    detail: Type.String({ description: 'What went wrong this time' }),
    instance: Type.Optional(Type.String({ format: 'uri-reference', description: 'The request path' })),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({
            description:
              'Where and which: `query.state`, `path.event_id`, `header.idempotency-key`, `body.score`',
          }),
          message: Type.String({ description: 'What the field accepts, e.g. `must be one of open, closed`' }),
        }),
        { description: 'One entry per field at fault (VALIDATION_FAILED, INVALID_ARGUMENT)' },
      ),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

export const EventSchema = Type.Object(
  {
    id: Type.Integer(),
    title: Type.String(),
    deadline: Type.String({ format: 'date-time' }),
    state: StringEnum(['OPEN', 'CLOSED', 'CANCELLED']),
    status: StringEnum(['PROCESSING', 'LOW_SCORE', 'HIGH_SCORE'], {
      description:
        'Derived from the average: none yet → PROCESSING, average ≥ 3 → HIGH_SCORE, else LOW_SCORE',
    }),
    scores: Type.Object({
      count: Type.Integer(),
      sum: Type.Integer(),
      average: Type.Number(),
      histogram: Type.Object(
        {
          '1': Type.Integer(),
          '2': Type.Integer(),
          '3': Type.Integer(),
          '4': Type.Integer(),
          '5': Type.Integer(),
        },
        { description: 'How many scores of each value' },
      ),
    }),
    version: Type.Integer({ description: 'Grows with every change of the event' }),
  },
  { $id: 'Event', description: 'An event with its score aggregates' },
);

export const EventListSchema = Type.Object(
  {
    events: Type.Array(Type.Ref('Event')),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as ?cursor= for the next page; null on the last',
    }),
  },
  { description: 'A page of events' },
);

export const ScoreSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    event_id: Type.Integer(),
    score: Type.Integer({ minimum: 1, maximum: 5, description: 'The value last submitted' }),
    status: StringEnum(['PENDING', 'CONFIRMED', 'REJECTED'], {
      description:
        'PENDING until line-provider answers; CONFIRMED when the value in effect is known; REJECTED if none is',
    }),
    version: Type.Integer({ description: 'Grows with every change the user makes' }),
    confirmed_score: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The value line-provider counts, if any',
    }),
    reason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why the last change was not applied: EVENT_NOT_FOUND, EVENT_CLOSED, UNAVAILABLE',
    }),
    final: Type.Boolean({ description: 'True once the event closed: the score can no longer change' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Score', description: "A score and its saga's state" },
);

export const ScoreListSchema = Type.Object(
  {
    scores: Type.Array(Type.Ref('Score')),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as ?cursor= for the next page; null on the last',
    }),
  },
  { description: 'A page of your scores, newest first' },
);

export const SubmitScoreBody = Type.Object(
  { score: Type.Integer({ minimum: 1, maximum: 5, description: 'Your rating, 1 to 5' }) },
  { additionalProperties: false },
);

export const EventIdParams = Type.Object({
  event_id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Event id' }),
});

export const ScoreIdParams = Type.Object({ score_id: Type.String({ format: 'uuid' }) });

export const ListEventsQuery = Type.Object(
  {
    state: Type.Optional(
      StringEnum(['open', 'closed', 'cancelled', 'all'], { default: 'open', description: 'Which events' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Repeat a request safely: the same key and body return the first answer (24 h)',
    }),
  ),
});

export type EventBody = Static<typeof EventSchema>;
export type ScoreBody = Static<typeof ScoreSchema>;

export const ProblemTypeSchema = Type.Object(
  {
    code: StringEnum(problemCodes),
    type: Type.String({ format: 'uri-reference', description: 'Where this is served' }),
    status: Type.Integer(),
    title: Type.String(),
    meaning: Type.String({ description: 'When it happens' }),
    action: Type.String({ description: 'What the client should do' }),
  },
  { $id: 'ProblemType' },
);
