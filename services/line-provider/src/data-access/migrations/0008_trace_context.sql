-- apply_scores() and revert_scores() with the caller's trace context (a W3C traceparent): it is set for
-- the transaction, and each EventChanged row the call writes takes it as the outbox's traceparent
-- default (platform/0003_outbox_traceparent), so the event's change carries the trace of the saga step
-- that made it. The functions themselves are unchanged; an untraced call goes to them directly and pays
-- nothing for this.
CREATE FUNCTION apply_scores(
  p_score_ids uuid[], p_versions bigint[], p_event_ids bigint[], p_user_ids text[], p_rates smallint[],
  p_topic text, p_traceparent text
) RETURNS TABLE (
  item int, outcome text, reason text, applied_version bigint, applied_rate smallint, event_version bigint
)
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM set_config('scoreline.traceparent', coalesce(p_traceparent, ''), true);
  RETURN QUERY SELECT * FROM apply_scores(p_score_ids, p_versions, p_event_ids, p_user_ids, p_rates, p_topic);
END $$;

CREATE FUNCTION revert_scores(p_score_ids uuid[], p_versions bigint[], p_topic text, p_traceparent text)
RETURNS TABLE (
  item int, outcome text, applied_version bigint, applied_rate smallint, event_version bigint
)
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM set_config('scoreline.traceparent', coalesce(p_traceparent, ''), true);
  RETURN QUERY SELECT * FROM revert_scores(p_score_ids, p_versions, p_topic);
END $$;
