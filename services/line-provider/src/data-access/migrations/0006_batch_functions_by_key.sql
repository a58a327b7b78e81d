-- The batch functions read every table through its key, and plan once per connection
-- (force_generic_plan). A generic plan made while the statistics say a table is empty (a new
-- deployment, or before the first ANALYZE) could pick sequential scans, and keep them while the table
-- grew: the ledger was then scanned once per item of a batch (a 10,000-score drain measured 1,600
-- ledger scans reading 1.9 M rows in five seconds, and line-provider's PostgreSQL CPU per score went from
-- 0.2 to 1.5 ms). Index scans are always right here, so these functions never plan a sequential scan
-- where an index serves.
ALTER FUNCTION apply_scores_many(uuid[], bigint[], bigint[], text[], smallint[], text) SET enable_seqscan = off;
ALTER FUNCTION revert_scores(uuid[], bigint[], text) SET enable_seqscan = off;
