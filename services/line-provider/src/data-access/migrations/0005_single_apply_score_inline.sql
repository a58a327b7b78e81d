-- apply_scores() of one item, cheaper again: the item's rules run in apply_scores() itself rather than in
-- a second function (apply_score() of migration 0004, dropped here), and in fewer statements.
--
-- - A new score's ledger row goes in holding what this call will most likely leave there (this version
--   applied), so that the common case writes it once; a rejection corrects it before the call ends.
-- - An existing score's ledger row and the item's version record are read in one statement.
-- - The event moves, its EventChanged goes in and the version is recorded in one statement whose
--   UPDATE only matches an open event; when it matches nothing, the event is read under its lock and
--   the item is rejected (or, if the event is open after all, the move is tried again, now under lock).
-- Locks keep their order: the score's ledger row, then its event.
--
-- Measured as instructions per call (valgrind, one single-user backend, the bench's mix of three new
-- scores to one change): 1.43 M through 0004's apply_scores() -> apply_score(), 1.25 M here; the batch
-- form takes 2.15 M for one item.
CREATE OR REPLACE FUNCTION apply_scores(
  p_score_ids uuid[], p_versions bigint[], p_event_ids bigint[], p_user_ids text[], p_rates smallint[],
  p_topic text
) RETURNS TABLE (
  item int, outcome text, reason text, applied_version bigint, applied_rate smallint, event_version bigint
)
LANGUAGE plpgsql
AS $$
DECLARE
  s_id uuid;
  s_version bigint;
  s_event bigint;
  s_user text;
  s_rate smallint;
  -- The ledger as it was before this call: nothing, for a new score.
  l_new boolean;
  l_event bigint;
  l_user text;
  l_max bigint := 0;
  l_version bigint := 0;
  l_rate smallint;
  -- What was recorded for this version, if anything.
  r_found boolean := false;
  r_apply text;
  r_reject text;
  r_revert text;
  e_id bigint;
  e_open boolean;
BEGIN
  IF cardinality(p_score_ids) <> 1 THEN
    RETURN QUERY
    SELECT * FROM apply_scores_many(p_score_ids, p_versions, p_event_ids, p_user_ids, p_rates, p_topic);
    RETURN;
  END IF;
  s_id := p_score_ids[1];
  s_version := p_versions[1];
  s_event := p_event_ids[1];
  s_user := p_user_ids[1];
  s_rate := p_rates[1];

  -- Lock the ledger row, creating it if needed (ON CONFLICT … WHERE false locks an existing row without
  -- writing it).
  INSERT INTO score_ledger AS sl (score_id, event_id, user_id, max_version, applied_version, applied_rate)
  VALUES (s_id, s_event, s_user, s_version, s_version, s_rate)
  ON CONFLICT (score_id) DO UPDATE SET updated_at = sl.updated_at WHERE false;
  l_new := FOUND;
  IF NOT l_new THEN
    SELECT sl.event_id, sl.user_id, sl.max_version, sl.applied_version, sl.applied_rate,
      sv.score_id IS NOT NULL, sv.apply_outcome, sv.reject_reason, sv.revert_outcome
    INTO l_event, l_user, l_max, l_version, l_rate, r_found, r_apply, r_reject, r_revert
    FROM score_ledger sl
    LEFT JOIN score_versions sv ON sv.score_id = sl.score_id AND sv.version = s_version
    WHERE sl.score_id = s_id;
    IF s_event <> COALESCE(l_event, s_event) OR s_user <> COALESCE(l_user, s_user) THEN
      RAISE EXCEPTION 'score_id already belongs to another event or user'
        USING ERRCODE = 'SL001', DETAIL = '0';
    END IF;
  END IF;

  item := 1;
  applied_version := l_version;
  applied_rate := l_rate;
  -- Answered before, or older than what was seen: an answer only (decideApply's first three cases).
  IF r_found OR s_version <= l_max THEN
    IF r_apply IS NOT NULL THEN
      outcome := r_apply;
      reason := r_reject;
    ELSIF r_revert IS NOT NULL THEN
      outcome := 'REJECTED';
      reason := 'REVERTED';
    ELSE
      outcome := 'SUPERSEDED';
    END IF;
    SELECT ev.version INTO event_version FROM events ev WHERE ev.id = s_event;
    event_version := COALESCE(event_version, 0);
    RETURN NEXT;
    RETURN;
  END IF;

  LOOP
    -- The event moves from the rate in effect before (none: one score more) to this one, if it is open.
    WITH moved AS (
      UPDATE events ev SET
        score_count = ev.score_count + (l_rate IS NULL)::int,
        score_sum = ev.score_sum + s_rate - COALESCE(l_rate, 0),
        rate_1 = ev.rate_1 + (s_rate = 1)::int - COALESCE(l_rate = 1, false)::int,
        rate_2 = ev.rate_2 + (s_rate = 2)::int - COALESCE(l_rate = 2, false)::int,
        rate_3 = ev.rate_3 + (s_rate = 3)::int - COALESCE(l_rate = 3, false)::int,
        rate_4 = ev.rate_4 + (s_rate = 4)::int - COALESCE(l_rate = 4, false)::int,
        rate_5 = ev.rate_5 + (s_rate = 5)::int - COALESCE(l_rate = 5, false)::int,
        version = ev.version + 1,
        updated_at = now()
      WHERE ev.id = s_event AND ev.state = 'OPEN' AND ev.deadline > now()
      RETURNING ev.*
    ),
    recorded AS (
      INSERT INTO score_versions (score_id, version, rate, apply_outcome)
      SELECT s_id, s_version, s_rate, 'APPLIED' FROM moved
    ),
    announced AS (
      INSERT INTO outbox (topic, message_key, type, payload)
      SELECT p_topic, m.id::text, 'EventChanged', event_changed_payload(m, 'SCORE_APPLIED') FROM moved m
    )
    SELECT m.version INTO event_version FROM moved m;
    IF FOUND THEN
      outcome := 'APPLIED';
      applied_version := s_version;
      applied_rate := s_rate;
      IF NOT l_new THEN
        UPDATE score_ledger sl SET
          max_version = s_version,
          applied_version = s_version,
          applied_rate = s_rate,
          event_id = COALESCE(sl.event_id, s_event),
          user_id = COALESCE(sl.user_id, s_user),
          updated_at = now()
        WHERE sl.score_id = s_id;
      END IF;
      RETURN NEXT;
      RETURN;
    END IF;
    -- Not moved: decide under the event's lock. Open after all (its deadline moved on meanwhile): try
    -- again, and now nobody can change it first.
    SELECT ev.id, ev.state = 'OPEN' AND ev.deadline > now(), ev.version
    INTO e_id, e_open, event_version
    FROM events ev WHERE ev.id = s_event
    FOR NO KEY UPDATE;
    EXIT WHEN NOT COALESCE(e_open, false);
  END LOOP;

  outcome := 'REJECTED';
  reason := CASE WHEN e_id IS NULL THEN 'EVENT_NOT_FOUND' ELSE 'EVENT_CLOSED' END;
  event_version := COALESCE(event_version, 0);
  INSERT INTO score_versions (score_id, version, rate, apply_outcome, reject_reason)
  VALUES (s_id, s_version, s_rate, 'REJECTED', reason);
  UPDATE score_ledger sl SET
    max_version = s_version,
    applied_version = l_version,
    applied_rate = l_rate,
    event_id = COALESCE(sl.event_id, s_event),
    user_id = COALESCE(sl.user_id, s_user),
    updated_at = now()
  WHERE sl.score_id = s_id;
  RETURN NEXT;
END
$$;

DROP FUNCTION apply_score(uuid, bigint, bigint, text, smallint, text);
