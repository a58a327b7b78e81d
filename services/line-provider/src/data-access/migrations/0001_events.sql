-- Events and their score aggregates. The aggregates are kept on the event row (not summed on read) so
-- that reads are one row and every change moves them under the event's row lock.
CREATE TABLE events (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title         text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  deadline      timestamptz NOT NULL,
  state         text        NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'CLOSED', 'CANCELLED')),
  score_count   bigint      NOT NULL DEFAULT 0 CHECK (score_count >= 0),
  score_sum     bigint      NOT NULL DEFAULT 0 CHECK (score_sum >= 0),
  rate_1        bigint      NOT NULL DEFAULT 0 CHECK (rate_1 >= 0),
  rate_2        bigint      NOT NULL DEFAULT 0 CHECK (rate_2 >= 0),
  rate_3        bigint      NOT NULL DEFAULT 0 CHECK (rate_3 >= 0),
  rate_4        bigint      NOT NULL DEFAULT 0 CHECK (rate_4 >= 0),
  rate_5        bigint      NOT NULL DEFAULT 0 CHECK (rate_5 >= 0),
  version       bigint      NOT NULL DEFAULT 1,
  cancel_reason text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  closed_at     timestamptz
);
-- The deadline closer's scan: open events by deadline.
CREATE INDEX events_open_deadline_idx ON events (deadline) WHERE state = 'OPEN';
CREATE INDEX events_state_id_idx ON events (state, id);

-- One row per score id: the version in effect and the highest version seen in any form.
-- event_id/user_id are null when the first thing seen of a score was a RevertScore (a tombstone).
CREATE TABLE score_ledger (
  score_id        uuid        PRIMARY KEY,
  event_id        bigint,
  user_id         text,
  max_version     bigint      NOT NULL DEFAULT 0,
  applied_version bigint      NOT NULL DEFAULT 0,
  applied_rate    smallint    CHECK (applied_rate BETWEEN 1 AND 5),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX score_ledger_event_idx ON score_ledger (event_id);

-- What was answered for each (score id, version): repeats answer the same, reverts leave tombstones,
-- and a revert finds the previously applied version here.
CREATE TABLE score_versions (
  score_id       uuid        NOT NULL,
  version        bigint      NOT NULL,
  rate           smallint    CHECK (rate BETWEEN 1 AND 5),
  apply_outcome  text        CHECK (apply_outcome IN ('APPLIED', 'REJECTED')),
  reject_reason  text        CHECK (reject_reason IN ('EVENT_NOT_FOUND', 'EVENT_CLOSED', 'REVERTED')),
  revert_outcome text        CHECK (revert_outcome IN ('REVERTED', 'TOMBSTONED', 'NOT_CURRENT')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (score_id, version)
);

-- The EventChanged payload (proto3 JSON of scoreline.line_provider.v1.EventChanged, less message_id,
-- which travels as the broker message id). Built here so every writer of the outbox, in SQL or not,
-- describes an event the same way. The status rule matches domain/event.ts (average >= 3: sum >= 3*count).
CREATE FUNCTION event_changed_payload(e events, kind text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'eventId', e.id,
    'version', e.version,
    'kind', 'EVENT_CHANGE_KIND_' || kind,
    'occurredAt', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'event', jsonb_build_object(
      'id', e.id,
      'title', e.title,
      'deadline', to_char(e.deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'state', 'EVENT_STATE_' || e.state,
      'status', 'EVENT_STATUS_' || CASE
        WHEN e.score_count = 0 THEN 'PROCESSING'
        WHEN e.score_sum >= 3 * e.score_count THEN 'HIGH_SCORE'
        ELSE 'LOW_SCORE' END,
      'scores', jsonb_build_object(
        'count', e.score_count,
        'sum', e.score_sum,
        'average', CASE WHEN e.score_count = 0 THEN 0 ELSE e.score_sum::float8 / e.score_count END,
        'histogram', jsonb_build_array(e.rate_1, e.rate_2, e.rate_3, e.rate_4, e.rate_5)),
      'version', e.version,
      'createdAt', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'updatedAt', to_char(e.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
$$;
