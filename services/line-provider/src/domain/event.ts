/** Rules about events. Pure: no I/O, so they are unit-tested alone and shared by every entry point. */

export type EventState = 'OPEN' | 'CLOSED' | 'CANCELLED';
export type EventStatus = 'PROCESSING' | 'LOW_SCORE' | 'HIGH_SCORE';
export type Rate = 1 | 2 | 3 | 4 | 5;

export interface Aggregates {
  count: number;
  sum: number;
  /** histogram[0] counts rate 1 … histogram[4] counts rate 5. */
  histogram: [number, number, number, number, number];
}

export interface Event {
  id: number;
  title: string;
  deadline: Date;
  state: EventState;
  aggregates: Aggregates;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export const TITLE_MAX = 200;
export const HIGH_SCORE_THRESHOLD = 3;

/** The original system's rule: no scores → PROCESSING, average ≥ 3 → HIGH_SCORE, else LOW_SCORE. */
export function deriveStatus(aggregates: Pick<Aggregates, 'count' | 'sum'>): EventStatus {
  if (aggregates.count === 0) return 'PROCESSING';
  // sum ≥ 3·count is average ≥ 3 without floating point.
  return aggregates.sum >= HIGH_SCORE_THRESHOLD * aggregates.count ? 'HIGH_SCORE' : 'LOW_SCORE';
}

export function average(aggregates: Pick<Aggregates, 'count' | 'sum'>): number {
  return aggregates.count === 0 ? 0 : aggregates.sum / aggregates.count;
}

/** Scores are accepted while the event is OPEN and its deadline is still ahead. */
export function acceptsScores(event: Pick<Event, 'state' | 'deadline'>, now: Date): boolean {
  return event.state === 'OPEN' && event.deadline.getTime() > now.getTime();
}

export type Violation = { field: string; message: string };

/** PostgreSQL's text (and jsonb) cannot hold U+0000: a string with one is refused, not stored. */
export function hasNul(text: string): boolean {
  return text.includes('\0');
}

export function checkTitle(title: string): Violation | undefined {
  const trimmed = title.trim();
  if (trimmed.length === 0) return { field: 'title', message: 'title must not be empty' };
  if (hasNul(trimmed)) return { field: 'title', message: 'title must not contain NUL characters' };
  if ([...trimmed].length > TITLE_MAX) {
    return { field: 'title', message: `title must be at most ${TITLE_MAX} characters` };
  }
  return undefined;
}

export function checkDeadline(deadline: Date | undefined, now: Date): Violation | undefined {
  if (!deadline || Number.isNaN(deadline.getTime()))
    return { field: 'deadline', message: 'deadline is required' };
  if (deadline.getTime() <= now.getTime())
    return { field: 'deadline', message: 'deadline must be in the future' };
  return undefined;
}

/**
 * How the aggregates move when the rate in effect for one score changes from `from` to `to` (either may
 * be null: no rate in effect). Applying, changing and reverting are all this one move.
 */
export function aggregateDelta(
  from: Rate | null,
  to: Rate | null,
): { count: number; sum: number; histogram: number[] } {
  const histogram = [0, 0, 0, 0, 0];
  if (from !== null) histogram[from - 1]! -= 1;
  if (to !== null) histogram[to - 1]! += 1;
  return {
    count: (to === null ? 0 : 1) - (from === null ? 0 : 1),
    sum: (to ?? 0) - (from ?? 0),
    histogram,
  };
}
