/** Scores as score-maker keeps them (DESIGN.md §2). Pure: no I/O. */

export type ScoreStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED';
export type RejectionReason = 'EVENT_NOT_FOUND' | 'EVENT_CLOSED' | 'UNAVAILABLE' | 'REVERTED';

export interface Score {
  id: string;
  userId: string;
  eventId: number;
  /** The rate the user asked for last (version `version`). */
  rate: number;
  version: number;
  status: ScoreStatus;
  /** The rate line-provider has in effect for this score, or null if none. */
  confirmedRate: number | null;
  confirmedVersion: number;
  reason: RejectionReason | null;
  /** True once the event closed: the score can no longer change. */
  final: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Where score-maker's saga commands travel (outbox topic and queue name). */
export const SAGA_TOPIC = 'score-maker.saga';

export interface ApplyScoreCommand {
  scoreId: string;
  version: number;
  eventId: number;
  userId: string;
  rate: number;
}
