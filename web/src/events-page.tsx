import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type EventBody, type ScoreBody } from './api';
import { EventCard } from './event-card';
import type { Session } from './session';
import { openStream } from './stream';

/** The newer of two copies of a score: a later version, or the same version once settled. */
export function newerScore(held: ScoreBody | undefined, incoming: ScoreBody): boolean {
  if (!held) return true;
  if (incoming.version !== held.version) return incoming.version > held.version;
  if (held.final && !incoming.final) return false;
  if (held.status !== 'PENDING' && incoming.status === 'PENDING') return false;
  return incoming.updated_at >= held.updated_at || incoming.final;
}

function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/**
 * Open events, and the signed-in user's scores on them, kept live by the two streams: event changes
 * (aggregates, closing) and the user's score changes (settlements, final).
 */
export function EventsPage(props: {
  session: Session | undefined;
  onError: (message: string) => void;
  onSignedOut: () => void;
}) {
  const { session, onError, onSignedOut } = props;
  const [events, setEvents] = useState<Map<number, EventBody>>(new Map());
  const [scores, setScores] = useState<Map<number, ScoreBody>>(new Map());
  const [loaded, setLoaded] = useState(false);
  const [busy, setBusy] = useState<number | undefined>();
  const [live, setLive] = useState(false);
  const now = useNow();
  const held = useRef(events);
  held.current = events;

  const putEvents = useCallback((list: EventBody[]) => {
    setEvents((held) => {
      const next = new Map(held);
      for (const event of list) {
        const old = next.get(event.id);
        if (!old || event.version >= old.version) next.set(event.id, event);
      }
      return next;
    });
  }, []);
  const putScores = useCallback((list: ScoreBody[]) => {
    setScores((held) => {
      const next = new Map(held);
      for (const score of list)
        if (newerScore(next.get(score.event_id), score)) next.set(score.event_id, score);
      return next;
    });
  }, []);

  const loadEvents = useCallback(async () => {
    try {
      const page = await api<{ events: EventBody[] }>('/events?limit=100');
      putEvents(page.events);
      setLoaded(true);
    } catch (error) {
      onError(error instanceof ApiError ? error.message : String(error));
    }
  }, [putEvents, onError]);

  const loadScores = useCallback(async () => {
    if (!session) return;
    try {
      const page = await api<{ scores: ScoreBody[] }>('/me/scores?limit=100', { token: session.token });
      putScores(page.scores);
      // Events scored earlier that are no longer open are shown too, with their final scores.
      const missing = page.scores
        .map((s) => s.event_id)
        .filter((id) => !held.current.has(id))
        .slice(0, 20);
      const found = await Promise.all(
        missing.map((id) => api<EventBody>(`/events/${id}`).catch(() => undefined)),
      );
      putEvents(found.filter((e): e is EventBody => e !== undefined));
    } catch (error) {
      if (error instanceof ApiError && error.problem.code === 'UNAUTHENTICATED') onSignedOut();
      onError(error instanceof ApiError ? error.message : String(error));
    }
  }, [session, putScores, putEvents, onError, onSignedOut]);

  useEffect(
    () =>
      openStream('/events/stream', undefined, {
        onReady: () => void loadEvents(),
        onReset: () => void loadEvents(),
        onMessage: (kind, data) => {
          if (kind === 'event') putEvents([data as EventBody]);
        },
        onStateChange: setLive,
      }),
    [loadEvents, putEvents],
  );

  useEffect(() => {
    setScores(new Map());
    if (!session) return undefined;
    return openStream('/me/scores/stream', session.token, {
      onReady: () => void loadScores(),
      onReset: () => void loadScores(),
      onMessage: (kind, data) => {
        if (kind === 'score') putScores([data as ScoreBody]);
      },
      onRefused: (status) => {
        if (status === 401) {
          onError('Your sign-in is not valid any more: sign in again.');
          onSignedOut();
        }
      },
    });
  }, [session, loadScores, putScores, onError, onSignedOut]);

  const score = async (event: EventBody, stars: number) => {
    if (!session) return;
    setBusy(event.id);
    try {
      const answer = await api<ScoreBody>(`/events/${event.id}/score`, {
        method: 'POST',
        body: { score: stars },
        token: session.token,
      });
      putScores([answer]);
    } catch (error) {
      onError(error instanceof ApiError ? error.message : String(error));
    } finally {
      setBusy(undefined);
    }
  };

  const shown = [...events.values()]
    .filter((e) => e.state === 'OPEN' || scores.has(e.id))
    .sort(
      (a, b) =>
        (a.state === 'OPEN' ? 0 : 1) - (b.state === 'OPEN' ? 0 : 1) || a.deadline.localeCompare(b.deadline),
    );

  return (
    <section aria-labelledby="events-title">
      <div class="section-head">
        <h2 id="events-title">Events</h2>
        <span class={live ? 'live on' : 'live'} data-testid="live-state">
          {live ? 'Live' : 'Connecting…'}
        </span>
      </div>
      {!session && <p class="hint">Sign in to score events; everyone sees the totals change live.</p>}
      {loaded && shown.length === 0 && <p>No open events right now.</p>}
      <ul class="events">
        {shown.map((event) => (
          <EventCard
            key={event.id}
            event={event}
            score={scores.get(event.id)}
            now={now}
            signedIn={session !== undefined}
            busy={busy === event.id}
            onScore={(e, n) => void score(e, n)}
          />
        ))}
      </ul>
    </section>
  );
}
