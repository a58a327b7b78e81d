import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, ApiError, type EventBody } from './api';
import type { Session } from './session';

interface Overview {
  generated_at: string;
  stuck_after_seconds: number;
  sagas: {
    applying: number;
    reverting: number;
    stuck: number;
    in_flight: {
      score_id: string;
      version: number;
      event_id: number;
      user_id: string;
      step: 'APPLYING' | 'REVERTING';
      age_seconds: number;
      stuck: boolean;
      last_error: string | null;
    }[];
  };
  outbox: Record<string, { unpublished: number | null; lag_seconds: number | null; error: string | null }>;
  line_provider: { status: 'ok' | 'failing'; error: string | null };
  compensations: {
    score_id: string;
    event_id: number;
    user_id: string;
    version: number;
    status: string;
    reason: string;
    confirmed_score: number | null;
    at: string;
  }[];
}

const REFRESH_MS = 2000;

function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** In an hour's time, as a datetime-local value. */
function inAnHour(): string {
  const d = new Date(Date.now() + 3_600_000 - new Date().getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/**
 * The operations console: sagas in flight, compensating and stuck; the outbox backlog; recent
 * compensations; re-drive of a saga; creating, closing and cancelling events. For admin tokens only.
 */
export function ConsolePage(props: { session: Session | undefined; onError: (message: string) => void }) {
  const { session, onError } = props;
  const [overview, setOverview] = useState<Overview | undefined>();
  const [denied, setDenied] = useState<string | undefined>();
  const [events, setEvents] = useState<EventBody[]>([]);
  const [title, setTitle] = useState('');
  const [deadline, setDeadline] = useState(inAnHour);
  const [notice, setNotice] = useState<string | undefined>();

  const refresh = useCallback(async () => {
    if (!session) return;
    try {
      // The events list needs line-provider; the overview must show even while it is down.
      const open = api<{ events: EventBody[] }>('/events?limit=100').then(
        (page) => setEvents(page.events),
        () => undefined,
      );
      setOverview(await api<Overview>('/admin/overview', { token: session.token }));
      setDenied(undefined);
      await open;
    } catch (error) {
      if (error instanceof ApiError && [401, 403].includes(error.problem.status)) setDenied(error.message);
      else onError(error instanceof ApiError ? error.message : String(error));
    }
  }, [session, onError]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  const act = async (what: string, path: string, body: unknown = {}) => {
    if (!session) return;
    try {
      await api(path, { method: 'POST', body, token: session.token });
      setNotice(what);
      await refresh();
    } catch (error) {
      onError(error instanceof ApiError ? error.message : String(error));
    }
  };

  if (!session) return <p>Sign in with an administrator's token to use the operations console.</p>;
  if (denied) {
    return (
      <section class="panel" aria-labelledby="console-denied">
        <h2 id="console-denied">No console for this token</h2>
        <p data-testid="console-denied">{denied}</p>
      </section>
    );
  }
  if (!overview) return <p>Loading…</p>;

  const { sagas } = overview;
  return (
    <>
      <p class="visually-hidden" role="status">
        {notice}
      </p>
      <section class="panel" aria-labelledby="sagas-title">
        <h2 id="sagas-title">Sagas in flight</h2>
        <p data-testid="saga-counts">
          {sagas.applying} applying · {sagas.reverting} compensating · <strong>{sagas.stuck} stuck</strong>{' '}
          (compensating for over {overview.stuck_after_seconds} s)
        </p>
        <p data-testid="line-provider-state">
          line-provider:{' '}
          {overview.line_provider.status === 'ok' ? (
            <span class="badge badge-confirmed">reachable</span>
          ) : (
            <>
              <span class="badge badge-rejected">unreachable</span> last error: {overview.line_provider.error}
            </>
          )}
        </p>
        {sagas.in_flight.length === 0 ? (
          <p data-testid="no-sagas">No saga in flight.</p>
        ) : (
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Sagas in flight (scrolls sideways)">
            <table data-testid="sagas">
              <caption class="visually-hidden">Sagas in flight, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">Score</th>
                  <th scope="col">Event</th>
                  <th scope="col">User</th>
                  <th scope="col">Step</th>
                  <th scope="col">Age</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {sagas.in_flight.map((s) => (
                  <tr key={s.score_id} data-testid={`saga-${s.score_id}`}>
                    <td>
                      <code title={s.score_id}>{s.score_id.slice(0, 8)}</code> v{s.version}
                    </td>
                    <td>{s.event_id}</td>
                    <td>{s.user_id}</td>
                    <td>
                      {s.step === 'APPLYING' ? 'applying' : 'compensating'}
                      {s.stuck && (
                        <>
                          {' '}
                          <span class="badge badge-rejected">stuck</span>
                        </>
                      )}
                    </td>
                    <td>{age(s.age_seconds)}</td>
                    <td class="error-text">{s.last_error ?? '–'}</td>
                    <td>
                      <button
                        type="button"
                        onClick={() =>
                          void act(`Saga ${s.score_id} re-driven`, `/admin/sagas/${s.score_id}/redrive`)
                        }
                      >
                        Re-drive now
                        <span class="visually-hidden"> score {s.score_id}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section class="panel" aria-labelledby="outbox-title">
        <h2 id="outbox-title">Outbox</h2>
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Outbox (scrolls sideways)">
          <table data-testid="outbox">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Unpublished</th>
                <th scope="col">Lag</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(overview.outbox).map(([service, o]) => (
                <tr key={service}>
                  <td>{service}</td>
                  {o.error === null ? (
                    <>
                      <td>{o.unpublished}</td>
                      <td>{(o.lag_seconds ?? 0).toFixed(1)} s</td>
                    </>
                  ) : (
                    <td colSpan={2}>unknown: {o.error}</td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section class="panel" aria-labelledby="compensations-title">
        <h2 id="compensations-title">Recent compensations</h2>
        {overview.compensations.length === 0 ? (
          <p>None recently.</p>
        ) : (
          <div
            class="table-wrap"
            tabIndex={0}
            role="region"
            aria-label="Recent compensations (scrolls sideways)"
          >
            <table data-testid="compensations">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Score</th>
                  <th scope="col">Event</th>
                  <th scope="col">User</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {overview.compensations.map((c) => (
                  <tr key={`${c.score_id}.${c.version}`}>
                    <td>{new Date(c.at).toLocaleTimeString()}</td>
                    <td>
                      <code title={c.score_id}>{c.score_id.slice(0, 8)}</code> v{c.version}
                    </td>
                    <td>{c.event_id}</td>
                    <td>{c.user_id}</td>
                    <td>{c.status === 'REJECTED' ? 'rejected' : `back to ${c.confirmed_score ?? '–'}★`}</td>
                    <td>{c.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section class="panel" aria-labelledby="events-admin-title">
        <h2 id="events-admin-title">Events</h2>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void act(`Event "${title}" created`, '/admin/events', {
              title: title.trim(),
              deadline: new Date(deadline).toISOString(),
            }).then(() => setTitle(''));
          }}
        >
          <label for="new-title">Title</label>
          <input id="new-title" value={title} onInput={(e) => setTitle(e.currentTarget.value)} required />
          <label for="new-deadline">Deadline</label>
          <input
            id="new-deadline"
            type="datetime-local"
            value={deadline}
            onInput={(e) => setDeadline(e.currentTarget.value)}
            required
          />
          <button type="submit">Create event</button>
        </form>
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Events (scrolls sideways)">
          <table data-testid="admin-events">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Deadline</th>
                <th scope="col">Scores</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event) => (
                <tr key={event.id}>
                  <td>
                    {event.id}. {event.title}
                  </td>
                  <td>{new Date(event.deadline).toLocaleString()}</td>
                  <td>{event.scores.count}</td>
                  <td>
                    <div class="row">
                      <button
                        type="button"
                        onClick={() =>
                          void act(`Event ${event.id} closed`, `/admin/events/${event.id}/close`)
                        }
                      >
                        Close<span class="visually-hidden"> {event.title}</span>
                      </button>
                      <button
                        type="button"
                        onClick={() =>
                          void act(`Event ${event.id} cancelled`, `/admin/events/${event.id}/cancel`, {
                            reason: 'cancelled from the console',
                          })
                        }
                      >
                        Cancel<span class="visually-hidden"> {event.title}</span>
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
