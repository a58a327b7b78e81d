-- ApplyScore and RevertScore for many (score id, version) items at once, each call one statement: the
-- rules of domain/score-ledger.ts (decideApply, decideRevert) carried out set-based, so a batch costs
-- one round trip whatever its size, and a single call is a batch of one. Each item is answered as if
-- the items had come one by one in (score id, version) order; a repeat of one (score id, version)
-- answers like its first occurrence. test/score-batches-model.test.ts checks this against those rules.
--
-- Locks, always in this order, so that concurrent calls never deadlock: every score's ledger row in
-- score id order, then the events to be moved in id order. Everything is decided after both, from
-- rows nobody else can change any more; then one statement writes it all.
--
-- Plans. Each function plans its statements once per connection (plan_cache_mode =
-- force_generic_plan): left to choose, the plan cache finds custom plans, which see that a single
-- ApplyScore's arrays hold one item, cheaper than the generic one, and re-plans every statement on
-- every call (measured: 1.8-2.3 ms of backend CPU per ApplyScore instead of 0.8-0.9). A plan made
-- once must suit a growing table, so every table is read by key arrays (`id = ANY(...)`), which the
-- planner reads through the primary key. Joined directly to the unnested items, the tables were
-- planned as hash joins over sequential scans while small and stayed so as they grew; with the hot
-- events filling with dead row versions between vacuums, backend CPU per ApplyScore doubled within
-- 3,000 calls (measured with autovacuum off).

-- Raised (SQLSTATE SL001, DETAIL = the 0-based item index) when an item's score id belongs to another
-- event or user. The call then changes nothing.
CREATE FUNCTION apply_scores(
  p_score_ids uuid[], p_versions bigint[], p_event_ids bigint[], p_user_ids text[], p_rates smallint[],
  p_topic text
) RETURNS TABLE (
  item int, outcome text, reason text, applied_version bigint, applied_rate smallint, event_version bigint
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
  v_conflict bigint;
  v_events bigint[] := ARRAY(SELECT DISTINCT e FROM unnest(p_event_ids) AS e);
BEGIN
  -- Lock (creating if needed) each ledger row. INSERT … SELECT inserts, and so locks, in the SELECT's
  -- order. ON CONFLICT DO UPDATE … WHERE false locks an existing row without writing a new version of
  -- it. A new row belongs to the event and user of the score's first item.
  INSERT INTO score_ledger AS l (score_id, event_id, user_id)
  SELECT DISTINCT ON (i.score_id) i.score_id, i.event_id, i.user_id
  FROM unnest(p_score_ids, p_event_ids, p_user_ids) WITH ORDINALITY AS i(score_id, event_id, user_id, ord)
  ORDER BY i.score_id, i.ord
  ON CONFLICT (score_id) DO UPDATE SET updated_at = l.updated_at WHERE false;

  -- A score id reused for another event or user (against the ledger, or against the score's first item
  -- when the ledger has no owner yet) refuses the whole call before anything is written.
  SELECT min(i.ord) INTO v_conflict
  FROM unnest(p_score_ids, p_event_ids, p_user_ids) WITH ORDINALITY AS i(score_id, event_id, user_id, ord)
  JOIN (SELECT * FROM score_ledger WHERE score_id = ANY(p_score_ids)) l ON l.score_id = i.score_id
  JOIN (
    SELECT DISTINCT ON (f.score_id) f.score_id, f.event_id, f.user_id
    FROM unnest(p_score_ids, p_event_ids, p_user_ids) WITH ORDINALITY AS f(score_id, event_id, user_id, ord)
    ORDER BY f.score_id, f.ord
  ) f ON f.score_id = i.score_id
  WHERE i.event_id <> COALESCE(l.event_id, f.event_id) OR i.user_id <> COALESCE(l.user_id, f.user_id);
  IF v_conflict IS NOT NULL THEN
    RAISE EXCEPTION 'score_id already belongs to another event or user'
      USING ERRCODE = 'SL001', DETAIL = (v_conflict - 1)::text;
  END IF;

  -- Lock the events that may move: those of items newer than any version of their score seen so far
  -- (an older one, or a repeat, only answers). Their state is read below under this lock, so an event
  -- cannot close between the check and the move.
  PERFORM 1 FROM events e
  WHERE e.id = ANY(ARRAY(
    SELECT i.event_id
    FROM unnest(p_score_ids, p_versions, p_event_ids) AS i(score_id, version, event_id)
    JOIN (SELECT * FROM score_ledger WHERE score_id = ANY(p_score_ids)) l ON l.score_id = i.score_id
    WHERE i.version > l.max_version
  ))
  ORDER BY e.id
  FOR NO KEY UPDATE;

  RETURN QUERY
  WITH items AS (
    SELECT * FROM unnest(p_score_ids, p_versions, p_event_ids, p_user_ids, p_rates)
      WITH ORDINALITY AS i(score_id, version, event_id, user_id, rate, ord)
  ),
  -- The first item of each (score id, version) decides; its repeats answer the same.
  firsts AS (
    SELECT DISTINCT ON (score_id, version) * FROM items ORDER BY score_id, version, ord
  ),
  ledgers AS (SELECT * FROM score_ledger WHERE score_id = ANY(p_score_ids)),
  recorded AS (SELECT * FROM score_versions WHERE score_id = ANY(p_score_ids)),
  evs AS (SELECT * FROM events WHERE id = ANY(v_events)),
  -- decideApply, per (score id, version), from the state before the call. Taking a score's items in
  -- version order, an earlier item never changes the decision of a later one: a later version is newer
  -- than anything the earlier ones recorded, and the event's state is the same for all of them.
  -- `fresh`: nothing was recorded for this version yet, so its answer is recorded now.
  decided AS (
    SELECT f.score_id, f.version, f.event_id, f.user_id, f.rate,
      l.applied_version AS before_version, l.applied_rate AS before_rate, e.version AS event_version,
      v.score_id IS NULL AND f.version > l.max_version AS fresh,
      CASE
        WHEN v.apply_outcome IS NOT NULL THEN v.apply_outcome
        WHEN v.revert_outcome IS NOT NULL THEN 'REJECTED'
        WHEN f.version <= l.max_version THEN 'SUPERSEDED'
        WHEN e.state = 'OPEN' AND e.deadline > now() THEN 'APPLIED'
        ELSE 'REJECTED'
      END AS outcome,
      CASE
        WHEN v.apply_outcome IS NOT NULL THEN v.reject_reason
        WHEN v.revert_outcome IS NOT NULL THEN 'REVERTED'
        WHEN f.version <= l.max_version THEN NULL
        WHEN e.id IS NULL THEN 'EVENT_NOT_FOUND'
        WHEN NOT (e.state = 'OPEN' AND e.deadline > now()) THEN 'EVENT_CLOSED'
      END AS reason
    FROM firsts f
    JOIN ledgers l ON l.score_id = f.score_id
    LEFT JOIN recorded v ON v.score_id = f.score_id AND v.version = f.version
    LEFT JOIN evs e ON e.id = f.event_id
  ),
  -- What is in effect after each item: the newest version this call applied so far, else what was.
  walked AS (
    SELECT d.*,
      max(d.version) FILTER (WHERE d.fresh AND d.outcome = 'APPLIED')
        OVER (PARTITION BY d.score_id ORDER BY d.version) AS batch_version
    FROM decided d
  ),
  answers AS (
    SELECT w.*, a.rate AS batch_rate,
      COALESCE(w.batch_version, w.before_version) AS after_version,
      CASE WHEN w.batch_version IS NULL THEN w.before_rate ELSE a.rate END AS after_rate
    FROM walked w
    LEFT JOIN decided a ON a.score_id = w.score_id AND a.version = w.batch_version
  ),
  -- Per score with something to record: its last item (fresh versions are newer than all others).
  finals AS (
    SELECT DISTINCT ON (score_id) * FROM answers WHERE fresh ORDER BY score_id, version DESC
  ),
  versions AS (
    INSERT INTO score_versions (score_id, version, rate, apply_outcome, reject_reason)
    SELECT score_id, version, rate, outcome, reason FROM decided WHERE fresh
  ),
  ledger AS (
    UPDATE score_ledger l SET
      max_version = s.version,
      applied_version = s.after_version,
      applied_rate = s.after_rate,
      event_id = COALESCE(l.event_id, s.event_id),
      user_id = COALESCE(l.user_id, s.user_id),
      updated_at = now()
    FROM finals s
    WHERE l.score_id = s.score_id AND l.score_id = ANY(p_score_ids)
  ),
  -- Each event moves once, by the sum of its scores' moves (rate before the call -> rate after it).
  deltas AS (
    SELECT event_id,
      count(*) FILTER (WHERE before_rate IS NULL) AS d_count,
      sum(after_rate - COALESCE(before_rate, 0)) AS d_sum,
      count(*) FILTER (WHERE after_rate = 1) - count(*) FILTER (WHERE before_rate = 1) AS d1,
      count(*) FILTER (WHERE after_rate = 2) - count(*) FILTER (WHERE before_rate = 2) AS d2,
      count(*) FILTER (WHERE after_rate = 3) - count(*) FILTER (WHERE before_rate = 3) AS d3,
      count(*) FILTER (WHERE after_rate = 4) - count(*) FILTER (WHERE before_rate = 4) AS d4,
      count(*) FILTER (WHERE after_rate = 5) - count(*) FILTER (WHERE before_rate = 5) AS d5
    FROM finals WHERE batch_version IS NOT NULL
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
  -- One EventChanged per event per call, carrying the event as the call left it.
  announced AS (
    INSERT INTO outbox (topic, message_key, type, payload)
    SELECT p_topic, c.id::text, 'EventChanged', event_changed_payload(c, 'SCORE_APPLIED') FROM changed c
  )
  SELECT i.ord::int, a.outcome, a.reason, a.after_version, a.after_rate,
    COALESCE(c.version, a.event_version, 0)
  FROM items i
  JOIN answers a ON a.score_id = i.score_id AND a.version = i.version
  LEFT JOIN changed c ON c.id = i.event_id
  ORDER BY i.ord;
END
$$;

-- RevertScore for many items, in the same way. Taking a score's items in version order, only the item
-- of the version in effect before the call can revert (after it, what is in effect is older than every
-- later item); the versions below it in the call are marked (NOT_CURRENT or TOMBSTONED) before it, so
-- the version it restores is the newest earlier one applied, not reverted and not in the call.
CREATE FUNCTION revert_scores(p_score_ids uuid[], p_versions bigint[], p_topic text)
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
  -- decideRevert, per (score id, version).
  decided AS (
    SELECT f.score_id, f.version, l.event_id,
      l.applied_version AS before_version, l.applied_rate AS before_rate,
      v.revert_outcome IS NULL AS fresh,
      CASE
        WHEN v.revert_outcome IS NOT NULL THEN v.revert_outcome
        WHEN f.version = l.applied_version THEN 'REVERTED'
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
