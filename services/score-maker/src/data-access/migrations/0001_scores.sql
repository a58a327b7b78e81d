-- One score per (user, event). `version` grows with every change the user makes; the saga carries
-- (id, version) to line-provider, and only the reply for the current version may settle the score.
CREATE TABLE scores (
  id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Creation order, for stable keyset pagination of a user's scores (ids are random).
  seq               bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
  user_id           text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 200),
  event_id          bigint      NOT NULL CHECK (event_id >= 1),
  rate              smallint    NOT NULL CHECK (rate BETWEEN 1 AND 5),
  version           bigint      NOT NULL DEFAULT 1,
  status            text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED')),
  -- What line-provider has in effect for this score, as its last answer said: mirrored, never guessed.
  confirmed_rate    smallint    CHECK (confirmed_rate BETWEEN 1 AND 5),
  confirmed_version bigint      NOT NULL DEFAULT 0,
  reason            text,
  final             boolean     NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, event_id)
);
-- The sweeper's scan for stale sagas, and GET /me/scores.
CREATE INDEX scores_pending_idx ON scores (updated_at) WHERE status = 'PENDING';
CREATE INDEX scores_event_idx ON scores (event_id);
CREATE INDEX scores_user_seq_idx ON scores (user_id, seq);

-- Idempotency-Key: the first response to (user, key) is kept for 24 h and replayed for the same
-- request; a different request with the same key is refused.
CREATE TABLE idempotency_keys (
  user_id      text        NOT NULL,
  key          text        NOT NULL,
  request_hash text        NOT NULL,
  status_code  integer     NOT NULL,
  body         jsonb       NOT NULL,
  location     text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
