-- ApplyScore for a single item without the batch machinery. apply_scores() keeps its signature and
-- its answers; a call of one item now runs apply_score(), which carries out the same rules in
-- statements that each touch one row by its key, and any other call runs the batch form of migration
-- 0003, renamed apply_scores_many(). test/single-apply-score.test.ts runs the two side by side and
-- compares every answer and every row written.
--
-- Why: the batch form plans a dozen CTEs, sorts and a window over the unnested arrays, and sets up and
-- runs all of them for one row. Measured with one connection (pgbench, a new score a call,
-- synchronous_commit off so that the WAL flush does not hide it): 0.54-0.94 ms of backend CPU a call
-- for the batch form, 0.31-0.50 ms through apply_scores() with this migration.
--
-- Locks come in the batch's order (the score's ledger row, then its event), so single calls and
-- batches running at once still cannot deadlock.
ALTER FUNCTION apply_scores(uuid[], bigint[], bigint[], text[], smallint[], text) RENAME TO apply_scores_many;

CREATE FUNCTION apply_score(
  p_score_id uuid, p_version bigint, p_event_id bigint, p_user_id text, p_rate smallint, p_topic text,
  OUT item int, OUT outcome text, OUT reason text, OUT applied_version bigint, OUT applied_rate smallint,
  OUT event_version bigint
)
LANGUAGE plpgsql
AS $$
DECLARE
  l score_ledger;
  v score_versions;
  e events;
  c events;
  v_outcome text;
  v_reason text;
BEGIN
  -- Lock the ledger row, creating it if needed (the ON CONFLICT form of apply_scores_many()).
  -- RETURNING gives the row only when this call inserted it: then nothing was recorded for the score
  -- yet, so there is no owner to conflict with and no version record to read.
  INSERT INTO score_ledger AS sl (score_id, event_id, user_id)
  VALUES (p_score_id, p_event_id, p_user_id)
  ON CONFLICT (score_id) DO UPDATE SET updated_at = sl.updated_at WHERE false
  RETURNING * INTO l;
  IF NOT FOUND THEN
    SELECT * INTO l FROM score_ledger sl WHERE sl.score_id = p_score_id;
    IF p_event_id <> COALESCE(l.event_id, p_event_id) OR p_user_id <> COALESCE(l.user_id, p_user_id) THEN
      RAISE EXCEPTION 'score_id already belongs to another event or user'
        USING ERRCODE = 'SL001', DETAIL = '0';
    END IF;
    SELECT * INTO v FROM score_versions sv WHERE sv.score_id = p_score_id AND sv.version = p_version;
  END IF;

  -- The event may move only for a version newer than any seen: then it is read under its lock.
  IF p_version > l.max_version THEN
    SELECT * INTO e FROM events ev WHERE ev.id = p_event_id FOR NO KEY UPDATE;
  ELSE
    SELECT * INTO e FROM events ev WHERE ev.id = p_event_id;
  END IF;

  -- decideApply (domain/score-ledger.ts).
  IF v.apply_outcome IS NOT NULL THEN
    v_outcome := v.apply_outcome;
    v_reason := v.reject_reason;
  ELSIF v.revert_outcome IS NOT NULL THEN
    v_outcome := 'REJECTED';
    v_reason := 'REVERTED';
  ELSIF p_version <= l.max_version THEN
    v_outcome := 'SUPERSEDED';
  ELSIF e.state = 'OPEN' AND e.deadline > now() THEN
    v_outcome := 'APPLIED';
  ELSE
    v_outcome := 'REJECTED';
    v_reason := CASE WHEN e.id IS NULL THEN 'EVENT_NOT_FOUND' ELSE 'EVENT_CLOSED' END;
  END IF;

  item := 1;
  outcome := v_outcome;
  reason := v_reason;
  applied_version := l.applied_version;
  applied_rate := l.applied_rate;
  event_version := COALESCE(e.version, 0);
  -- Answered before, or older than what was seen: an answer only.
  IF v.score_id IS NOT NULL OR p_version <= l.max_version THEN
    RETURN;
  END IF;

  INSERT INTO score_versions (score_id, version, rate, apply_outcome, reject_reason)
  VALUES (p_score_id, p_version, p_rate, v_outcome, v_reason);
  IF v_outcome = 'APPLIED' THEN
    applied_version := p_version;
    applied_rate := p_rate;
  END IF;
  UPDATE score_ledger sl SET
    max_version = p_version,
    applied_version = CASE WHEN v_outcome = 'APPLIED' THEN p_version ELSE sl.applied_version END,
    applied_rate = CASE WHEN v_outcome = 'APPLIED' THEN p_rate ELSE sl.applied_rate END,
    event_id = COALESCE(sl.event_id, p_event_id),
    user_id = COALESCE(sl.user_id, p_user_id),
    updated_at = now()
  WHERE sl.score_id = p_score_id;
  IF v_outcome <> 'APPLIED' THEN
    RETURN;
  END IF;

  -- The event moves from the rate in effect before (none: one score more) to this one, and says so.
  UPDATE events ev SET
    score_count = ev.score_count + (l.applied_rate IS NULL)::int,
    score_sum = ev.score_sum + p_rate - COALESCE(l.applied_rate, 0),
    rate_1 = ev.rate_1 + (p_rate = 1)::int - COALESCE(l.applied_rate = 1, false)::int,
    rate_2 = ev.rate_2 + (p_rate = 2)::int - COALESCE(l.applied_rate = 2, false)::int,
    rate_3 = ev.rate_3 + (p_rate = 3)::int - COALESCE(l.applied_rate = 3, false)::int,
    rate_4 = ev.rate_4 + (p_rate = 4)::int - COALESCE(l.applied_rate = 4, false)::int,
    rate_5 = ev.rate_5 + (p_rate = 5)::int - COALESCE(l.applied_rate = 5, false)::int,
    version = ev.version + 1,
    updated_at = now()
  WHERE ev.id = p_event_id
  RETURNING * INTO c;
  INSERT INTO outbox (topic, message_key, type, payload)
  VALUES (p_topic, c.id::text, 'EventChanged', event_changed_payload(c, 'SCORE_APPLIED'));
  event_version := c.version;
END
$$;

-- What line-provider calls, for one item or many. Plans are left to the plan cache here: the batch
-- form sets its own plan_cache_mode.
CREATE FUNCTION apply_scores(
  p_score_ids uuid[], p_versions bigint[], p_event_ids bigint[], p_user_ids text[], p_rates smallint[],
  p_topic text
) RETURNS TABLE (
  item int, outcome text, reason text, applied_version bigint, applied_rate smallint, event_version bigint
)
LANGUAGE plpgsql
AS $$
BEGIN
  IF cardinality(p_score_ids) = 1 THEN
    SELECT * INTO item, outcome, reason, applied_version, applied_rate, event_version
    FROM apply_score(p_score_ids[1], p_versions[1], p_event_ids[1], p_user_ids[1], p_rates[1], p_topic);
    RETURN NEXT;
    RETURN;
  END IF;
  RETURN QUERY
  SELECT * FROM apply_scores_many(p_score_ids, p_versions, p_event_ids, p_user_ids, p_rates, p_topic);
END
$$;
