import { USER_ID_MAX } from '@scoreline/contracts/scores';
import type { Rate } from './event.js';
import { hasNul, type Violation } from './event.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ApplyScoreInput {
  scoreId: string;
  version: number;
  eventId: number;
  userId: string;
  rate: number;
}

/** The first thing wrong with an ApplyScore/RevertScore request, naming the field. */
export function checkScoreInput(
  input: Partial<ApplyScoreInput>,
  fields: readonly (keyof ApplyScoreInput)[],
): Violation | undefined {
  for (const field of fields) {
    const value = input[field];
    switch (field) {
      case 'scoreId':
        if (typeof value !== 'string' || !UUID.test(value))
          return { field: 'score_id', message: 'score_id must be a UUID' };
        break;
      case 'version':
        if (!isPositiveId(value)) return { field: 'version', message: 'version must be an integer >= 1' };
        break;
      case 'eventId':
        if (!isPositiveId(value)) return { field: 'event_id', message: 'event_id must be an integer >= 1' };
        break;
      case 'userId':
        // Counted in code points; a string of at most USER_ID_MAX UTF-16 units has no more than that.
        if (
          typeof value !== 'string' ||
          value.length === 0 ||
          (value.length > USER_ID_MAX && [...value].length > USER_ID_MAX)
        ) {
          return { field: 'user_id', message: `user_id must be 1 to ${USER_ID_MAX} characters` };
        }
        if (hasNul(value)) return { field: 'user_id', message: 'user_id must not contain NUL characters' };
        break;
      case 'rate':
        if (!isRate(value)) return { field: 'rate', message: 'rate must be an integer from 1 to 5' };
        break;
    }
  }
  return undefined;
}

/** The most items one ApplyScores or RevertScores call may carry. */
export const MAX_SCORE_BATCH = 1000;

/**
 * The first thing wrong with a batch: its size, or the first bad item, named as `items[i].field`.
 * A batch is all or nothing, so one bad item refuses the whole call.
 */
export function checkScoreBatch(
  items: readonly Partial<ApplyScoreInput>[],
  fields: readonly (keyof ApplyScoreInput)[],
): Violation | undefined {
  if (items.length > MAX_SCORE_BATCH) {
    return { field: 'items', message: `items must hold at most ${MAX_SCORE_BATCH} entries` };
  }
  for (const [i, item] of items.entries()) {
    const violation = checkScoreInput(item, fields);
    if (violation) {
      const field = `items[${i}].${violation.field}`;
      return { field, message: `${field}: ${violation.message}` };
    }
  }
  return undefined;
}

export function isRate(value: unknown): value is Rate {
  return value === 1 || value === 2 || value === 3 || value === 4 || value === 5;
}

export function isPositiveId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}
