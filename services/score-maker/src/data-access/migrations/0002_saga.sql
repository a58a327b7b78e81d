-- Where each score's saga is: APPLYING (ApplyScore sent or to be sent), REVERTING (timed out: a
-- RevertScore is on its way), NULL (settled). pending_since is when the current version's saga began,
-- for the timeout by age.
ALTER TABLE scores ADD COLUMN saga_state text CHECK (saga_state IN ('APPLYING', 'REVERTING'));
ALTER TABLE scores ADD COLUMN pending_since timestamptz;
UPDATE scores SET saga_state = 'APPLYING', pending_since = updated_at WHERE status = 'PENDING';
DROP INDEX scores_pending_idx;
-- The sweeper's and the stuck-saga listing's scan.
CREATE INDEX scores_saga_idx ON scores (pending_since) WHERE saga_state IS NOT NULL;
-- Scores of events not known to be closed, for the reconciliation with line-provider.
CREATE INDEX scores_open_event_idx ON scores (event_id) WHERE NOT final;

-- Messages consumed, by id, written in the same transaction as their effect: a redelivered message
-- finds its id here and changes nothing.
CREATE TABLE inbox (
  message_id  uuid        PRIMARY KEY,
  topic       text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_received_idx ON inbox (received_at);
