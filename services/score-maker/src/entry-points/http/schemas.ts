import { Type, type Static } from 'typebox';

/** Schemas for every request and response: they validate, serialise and document (OpenAPI) at once. */

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

export const EventSchema = Type.Object(
  {
    id: Type.Integer(),
    title: Type.String(),
    deadline: Type.String({ format: 'date-time' }),
    state: Type.Union([Type.Literal('OPEN'), Type.Literal('CLOSED'), Type.Literal('CANCELLED')]),
    status: Type.Union([Type.Literal('PROCESSING'), Type.Literal('LOW_SCORE'), Type.Literal('HIGH_SCORE')], {
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
  { $id: 'Event' },
);

export const EventListSchema = Type.Object({
  events: Type.Array(Type.Ref('Event')),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as ?cursor= for the next page; null on the last',
  }),
});

export const ScoreSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    event_id: Type.Integer(),
    score: Type.Integer({ minimum: 1, maximum: 5, description: 'The value last submitted' }),
    status: Type.Union([Type.Literal('PENDING'), Type.Literal('CONFIRMED'), Type.Literal('REJECTED')], {
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
  { $id: 'Score' },
);

export const ScoreListSchema = Type.Object({
  scores: Type.Array(Type.Ref('Score')),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

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
      Type.Union(
        [Type.Literal('open'), Type.Literal('closed'), Type.Literal('cancelled'), Type.Literal('all')],
        {
          default: 'open',
        },
      ),
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

/** Error responses every route documents. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('Problem')]));
