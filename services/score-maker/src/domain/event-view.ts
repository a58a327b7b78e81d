/**
 * score-maker's read model of an event. line-provider owns events (DESIGN.md §2); score-maker only reads
 * them over gRPC and caches them, so this is a snapshot at `version`, never something it changes.
 */

export type EventState = 'OPEN' | 'CLOSED' | 'CANCELLED';
export type EventStatus = 'PROCESSING' | 'LOW_SCORE' | 'HIGH_SCORE';

export interface EventScores {
  count: number;
  sum: number;
  /** sum / count; 0 when count is 0. */
  average: number;
  /** Always 5 entries: histogram[0] counts rate 1 … histogram[4] counts rate 5. */
  histogram: number[];
}

export interface EventView {
  id: number;
  title: string;
  deadline: Date;
  state: EventState;
  status: EventStatus;
  scores: EventScores;
  /** Grows with every change in line-provider; a higher version is always the newer snapshot. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One page of a listing of events; an empty nextPageToken ends the listing. */
export interface EventsPage {
  events: EventView[];
  nextPageToken: string;
}

/**
 * Scores are accepted while the event is OPEN and its deadline is still ahead. The deadline is checked
 * too because line-provider closes events by a periodic job: a snapshot can still say OPEN just after
 * the deadline passed, and line-provider would reject the score anyway.
 */
export function acceptsScores(event: Pick<EventView, 'state' | 'deadline'>, now: Date): boolean {
  return event.state === 'OPEN' && event.deadline.getTime() > now.getTime();
}
