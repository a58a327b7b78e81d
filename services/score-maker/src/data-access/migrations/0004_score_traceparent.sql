-- The trace context of the request that made a score's current version (a W3C traceparent; NULL when it
-- was not traced). T1 copies it into the ApplyScore outbox row; the timeout's RevertScore and the
-- sweeper's re-drives copy it from here, so every step of one submission's saga lands in its trace.
ALTER TABLE scores ADD COLUMN traceparent text;
