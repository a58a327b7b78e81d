-- RevertScore of a version in effect reverts it only while no later version of the score has been seen
-- (domain/score-ledger.ts decideRevert). A version is in effect again below the newest one seen when that
-- newer version was reverted or refused; score-maker has then settled the newer version's saga on what
-- is in effect here, so a late revert of the older one must not move it (it did: RevertScore(v2)
-- delivered after RevertScore(v3) rolled the score back to v1 while score-maker showed v2 confirmed).
-- Only the one condition changes; CREATE OR REPLACE drops the function's settings, so they are set again.

CREATE OR REPLACE FUNCTION revert_scores(p_score_ids uuid[], p_versions bigint[], p_topic text)
RETURNS TABLE (item int, outcome text, applied_version bigint, applied_rate smallint, event_version bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
  v_events bigint[];
BEGIN
  -- A score first seen in a revert gets a ledger row with no owner (a tombstone's).
  INSERT INTO score_ledger AS l (score_id)
  SELECT DISTINCT i.score_id FROM unnest(p_score_ids) AS i(score_id) ORDER BY 1
  ON CONFLICT (score_id) DO UPDATE SET updated_at = l.updated_at WHERE false;

  -- The scores' events: those whose version in effect is reverted are locked (in id order), since
  -- they move; a revert moves its event whatever the event's state.
  v_events := ARRAY(
    SELECT DISTINCT l.event_id FROM score_ledger l WHERE l.score_id = ANY(p_score_ids) AND l.event_id IS NOT NULL
  );
  PERFORM 1 FROM events e
  WHERE e.id = ANY(ARRAY(
    SELECT l.event_id
    FROM unnest(p_score_ids, p_versions) AS i(score_id, version)
    JOIN (SELECT * FROM score_ledger WHERE score_id = ANY(p_score_ids)) l
      ON l.score_id = i.score_id AND l.applied_version = i.version
  ))
  ORDER BY e.id
  FOR NO KEY UPDATE;

  RETURN QUERY
  WITH items AS (
    SELECT * FROM unnest(p_score_ids, p_versions) WITH ORDINALITY AS i(score_id, version, ord)
  ),
  firsts AS (
    SELECT DISTINCT ON (score_id, version) * FROM items ORDER BY score_id, version, ord
  ),
  ledgers AS (SELECT * FROM score_ledger WHERE score_id = ANY(p_score_ids)),
  recorded AS (SELECT * FROM score_versions WHERE score_id = ANY(p_score_ids)),
  -- decideRevert, per (score id, version): with the ledger as it was before the call, since the items
  -- of one score below the newest version seen are never those that revert.
  decided AS (
    SELECT f.score_id, f.version, l.event_id,
      l.applied_version AS before_version, l.applied_rate AS before_rate,
      v.revert_outcome IS NULL AS fresh,
      CASE
        WHEN v.revert_outcome IS NOT NULL THEN v.revert_outcome
        WHEN f.version = l.applied_version AND f.version >= l.max_version THEN 'REVERTED'
        WHEN v.apply_outcome = 'APPLIED' THEN 'NOT_CURRENT'
        ELSE 'TOMBSTONED'
      END AS outcome
    FROM firsts f
    JOIN ledgers l ON l.score_id = f.score_id
    LEFT JOIN recorded v ON v.score_id = f.score_id AND v.version = f.version
  ),
  -- For each score whose version in effect is reverted: what comes back (none: p.version is null).
  restored AS (
    SELECT d.score_id, d.event_id, d.version AS reverted, d.before_rate, p.version, p.rate
    FROM decided d
    LEFT JOIN LATERAL (
      SELECT pv.version, pv.rate FROM recorded pv
      WHERE pv.score_id = d.score_id AND pv.version < d.version
        AND pv.apply_outcome = 'APPLIED' AND pv.revert_outcome IS NULL
        AND NOT EXISTS (SELECT 1 FROM firsts b WHERE b.score_id = pv.score_id AND b.version = pv.version)
      ORDER BY pv.version DESC LIMIT 1
    ) p ON true
    WHERE d.outcome = 'REVERTED' AND d.fresh
  ),
  answers AS (
    SELECT d.*,
      CASE WHEN d.version >= r.reverted THEN COALESCE(r.version, 0) ELSE d.before_version END AS after_version,
      CASE WHEN d.version >= r.reverted THEN r.rate ELSE d.before_rate END AS after_rate
    FROM decided d
    LEFT JOIN restored r ON r.score_id = d.score_id
  ),
  versions AS (
    INSERT INTO score_versions (score_id, version, revert_outcome)
    SELECT score_id, version, outcome FROM decided WHERE fresh
    ON CONFLICT (score_id, version) DO UPDATE SET revert_outcome = EXCLUDED.revert_outcome
  ),
  ledger AS (
    UPDATE score_ledger l SET
      max_version = GREATEST(l.max_version, s.newest),
      applied_version = CASE WHEN r.reverted IS NULL THEN l.applied_version ELSE COALESCE(r.version, 0) END,
      applied_rate = CASE WHEN r.reverted IS NULL THEN l.applied_rate ELSE r.rate END,
      updated_at = now()
    FROM (SELECT score_id, max(version) AS newest FROM decided WHERE fresh GROUP BY score_id) s
    LEFT JOIN restored r ON r.score_id = s.score_id
    WHERE l.score_id = s.score_id AND l.score_id = ANY(p_score_ids)
  ),
  deltas AS (
    SELECT event_id,
      -count(*) FILTER (WHERE rate IS NULL) AS d_count,
      sum(COALESCE(rate, 0) - before_rate) AS d_sum,
      count(*) FILTER (WHERE rate = 1) - count(*) FILTER (WHERE before_rate = 1) AS d1,
      count(*) FILTER (WHERE rate = 2) - count(*) FILTER (WHERE before_rate = 2) AS d2,
      count(*) FILTER (WHERE rate = 3) - count(*) FILTER (WHERE before_rate = 3) AS d3,
      count(*) FILTER (WHERE rate = 4) - count(*) FILTER (WHERE before_rate = 4) AS d4,
      count(*) FILTER (WHERE rate = 5) - count(*) FILTER (WHERE before_rate = 5) AS d5
    FROM restored
    GROUP BY event_id
  ),
  changed AS (
    UPDATE events e SET
      score_count = e.score_count + d.d_count, score_sum = e.score_sum + d.d_sum,
      rate_1 = e.rate_1 + d.d1, rate_2 = e.rate_2 + d.d2, rate_3 = e.rate_3 + d.d3,
      rate_4 = e.rate_4 + d.d4, rate_5 = e.rate_5 + d.d5,
      version = e.version + 1, updated_at = now()
    FROM deltas d
    WHERE e.id = d.event_id AND e.id = ANY(v_events)
    RETURNING e.*
  ),
  evs AS (SELECT id, version FROM events WHERE id = ANY(v_events)),
  announced AS (
    INSERT INTO outbox (topic, message_key, type, payload)
    SELECT p_topic, c.id::text, 'EventChanged', event_changed_payload(c, 'SCORE_REVERTED') FROM changed c
  )
  SELECT i.ord::int, a.outcome, a.after_version, a.after_rate, COALESCE(c.version, e.version, 0)
  FROM items i
  JOIN answers a ON a.score_id = i.score_id AND a.version = i.version
  LEFT JOIN changed c ON c.id = a.event_id
  LEFT JOIN evs e ON e.id = a.event_id
  ORDER BY i.ord;
END
$$;
ALTER FUNCTION revert_scores(uuid[], bigint[], text) SET enable_seqscan = off;
