-- The last failure of a saga's current step, for the operations console. Written only when a step
-- fails (never on the saga's normal path); it belongs to the saga that began at pending_since, so it is
-- shown only while last_error_at >= pending_since.
ALTER TABLE scores ADD COLUMN last_error text;
ALTER TABLE scores ADD COLUMN last_error_at timestamptz;
