import type { EventBody, ScoreBody } from './api';

const statusWords: Record<EventBody['status'], string> = {
  PROCESSING: 'No scores yet',
  HIGH_SCORE: 'High score',
  LOW_SCORE: 'Low score',
};

const reasonWords: Record<string, string> = {
  EVENT_CLOSED: 'the event had closed',
  EVENT_NOT_FOUND: 'the event does not exist',
  UNAVAILABLE: 'the service did not answer in time',
  REVERTED: 'it was set back',
};

export function countdown(deadline: string, now: number): string {
  const left = Math.floor((Date.parse(deadline) - now) / 1000);
  if (left <= 0) return 'deadline passed';
  const d = Math.floor(left / 86400);
  const h = Math.floor((left % 86400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `closes in ${d > 0 ? `${d}d ` : ''}${pad(h)}:${pad(m)}:${pad(s)}`;
}

function Histogram({ event }: { event: EventBody }) {
  const { histogram, count } = event.scores;
  const max = Math.max(1, ...Object.values(histogram));
  return (
    <ul class="histogram" aria-label={`Scores of ${event.title} by stars`}>
      {(['5', '4', '3', '2', '1'] as const).map((stars) => (
        <li key={stars} data-testid={`histogram-${stars}`}>
          <span class="bar-label">{stars}★</span>
          <span class="bar" aria-hidden="true">
            <span style={{ width: `${(histogram[stars] / max) * 100}%` }} />
          </span>
          <span class="bar-count">
            {histogram[stars]}
            <span class="visually-hidden">
              {' '}
              of {count} scored {stars}
            </span>
          </span>
        </li>
      ))}
    </ul>
  );
}

function MyScore({ score }: { score: ScoreBody }) {
  const state =
    score.status === 'PENDING' ? 'Pending' : score.status === 'CONFIRMED' ? 'Confirmed' : 'Rejected';
  const shown = score.status === 'CONFIRMED' ? score.confirmed_score : score.score;
  return (
    <p class="my-score" data-testid="my-score" aria-live="polite">
      Your score: <strong>{shown}★</strong>{' '}
      <span class={`badge badge-${score.status.toLowerCase()}`} data-testid="my-score-status">
        {state}
      </span>
      {score.final && (
        <span class="badge badge-final" data-testid="my-score-final">
          Final
        </span>
      )}
      {score.reason && score.status !== 'PENDING' && (
        <span class="reason" data-testid="my-score-reason">
          {score.status === 'REJECTED' ? 'Not counted' : `Your change to ${score.score}★ was not applied`}:{' '}
          {reasonWords[score.reason] ?? score.reason}.
        </span>
      )}
    </p>
  );
}

export function EventCard(props: {
  event: EventBody;
  score: ScoreBody | undefined;
  now: number;
  signedIn: boolean;
  busy: boolean;
  onScore: (event: EventBody, stars: number) => void;
}) {
  const { event, score, now } = props;
  const open = event.state === 'OPEN' && Date.parse(event.deadline) > now;
  const titleId = `event-${event.id}-title`;
  const current = score?.score;
  return (
    <li class="event" data-testid={`event-${event.id}`}>
      <article aria-labelledby={titleId}>
        <h3 id={titleId}>{event.title}</h3>
        <p class="meta">
          <span class={`badge badge-${event.state.toLowerCase()}`}>
            {event.state === 'OPEN' ? 'Open' : event.state === 'CLOSED' ? 'Closed' : 'Cancelled'}
          </span>{' '}
          <time dateTime={event.deadline} title={new Date(event.deadline).toLocaleString()}>
            {event.state === 'OPEN'
              ? countdown(event.deadline, now)
              : `deadline ${new Date(event.deadline).toLocaleString()}`}
          </time>
        </p>
        <p class="summary" data-testid="event-summary">
          {statusWords[event.status]} · average <strong>{event.scores.average.toFixed(2)}</strong> ·{' '}
          {event.scores.count} {event.scores.count === 1 ? 'score' : 'scores'}
        </p>
        <Histogram event={event} />
        {props.signedIn && open && !score?.final && (
          <div class="stars" role="group" aria-label={`Your score for ${event.title}`}>
            {[1, 2, 3, 4, 5].map((n) => (
              <button
                key={n}
                type="button"
                class={current !== undefined && n <= current ? 'star on' : 'star'}
                aria-pressed={current === n}
                aria-label={`${n} ${n === 1 ? 'star' : 'stars'}`}
                // Not `disabled` while the score is being sent: a disabled button loses the keyboard
                // focus, and the user would have to find their place again after every score.
                aria-disabled={props.busy}
                onClick={() => {
                  if (!props.busy) props.onScore(event, n);
                }}
              >
                ★
              </button>
            ))}
          </div>
        )}
        {score && <MyScore score={score} />}
      </article>
    </li>
  );
}
