import type { EventView } from '../../domain/event-view.js';
import type { Score } from '../../domain/score.js';
import type { EventBody, ScoreBody } from './schemas.js';

/** Domain objects as the public API shows them (snake_case, like the original API). */
export function eventBody(event: EventView): EventBody {
  const [h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0] = event.scores.histogram;
  return {
    id: event.id,
    title: event.title,
    deadline: event.deadline.toISOString(),
    state: event.state,
    status: event.status,
    scores: {
      count: event.scores.count,
      sum: event.scores.sum,
      average: event.scores.average,
      histogram: { '1': h1, '2': h2, '3': h3, '4': h4, '5': h5 },
    },
    version: event.version,
  };
}

export function scoreBody(score: Score): ScoreBody {
  return {
    id: score.id,
    event_id: score.eventId,
    score: score.rate,
    status: score.status,
    version: score.version,
    confirmed_score: score.confirmedRate,
    reason: score.reason,
    final: score.final,
    created_at: score.createdAt.toISOString(),
    updated_at: score.updatedAt.toISOString(),
  };
}

/** Opaque cursors: base64url of a small JSON value, versioned so the format can change. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify({ v: 1, c: value })).toString('base64url');
}

export function decodeCursor(cursor: string): unknown {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { v?: number; c?: unknown };
    return parsed.v === 1 ? parsed.c : undefined;
  } catch {
    return undefined;
  }
}
