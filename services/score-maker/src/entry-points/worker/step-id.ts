import { createHash } from 'node:crypto';

/**
 * The message id of one saga step, the same as the SQL `stepId` in score-repository.ts computes:
 * md5('<score id>:<version>:<command>') read as a UUID.
 */
export function stepMessageId(
  scoreId: string,
  version: number,
  command: 'ApplyScore' | 'RevertScore',
): string {
  const hex = createHash('md5').update(`${scoreId}:${version}:${command}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
