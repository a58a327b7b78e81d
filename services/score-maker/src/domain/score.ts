import type { RejectReason } from '@scoreline/contracts/scores';

/** Scores as score-maker keeps them (DESIGN.md §2). Pure: no I/O. */

export type ScoreStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED';
/** line-provider's reasons, and UNAVAILABLE: the saga gave up on line-provider and compensated. */
export type RejectionReason = RejectReason | 'UNAVAILABLE';

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
  /** Where the current version's saga is; null once settled. */
  sagaState: 'APPLYING' | 'REVERTING' | null;
  /** When the current version's saga began. */
  pendingSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Where score-maker's saga commands travel (outbox topics and queue names). */
export const APPLY_TOPIC = 'score-maker.apply-score';
export const REVERT_TOPIC = 'score-maker.revert-score';

export interface ApplyScoreCommand {
  scoreId: string;
  version: number;
  eventId: number;
  userId: string;
  rate: number;
}

export interface RevertScoreCommand {
  scoreId: string;
  version: number;
}
