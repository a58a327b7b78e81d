import { APPLY_TOPIC, REVERT_TOPIC } from '../domain/score.js';

/**
 * The saga's command messages, each defined once, as SQL over a row of `scores`: its topic, type, key,
 * message id and payload. T1's outbox insert, the timeout's compensation and the sweeper's re-drive all
 * build their messages from these, so every copy of one step is the same message with the same id (the
 * queue keeps one live copy per id). The payloads are `ApplyScoreCommand` and `RevertScoreCommand`
 * (domain/score.ts); saga-commands.test.ts pins both.
 */
export const SAGA_COMMANDS = {
  ApplyScore: {
    topic: APPLY_TOPIC,
    payload: (s: string) =>
      `jsonb_build_object('scoreId', ${s}.id, 'version', ${s}.version, 'eventId', ${s}.event_id, 'userId', ${s}.user_id, 'rate', ${s}.rate)`,
  },
  RevertScore: {
    topic: REVERT_TOPIC,
    payload: (s: string) => `jsonb_build_object('scoreId', ${s}.id, 'version', ${s}.version)`,
  },
} as const;

export type SagaCommandType = keyof typeof SAGA_COMMANDS;

/** SQL for the message id of one saga step: a UUID from md5('<score id>:<version>:<command>'). */
export function stepId(scoreId: string, version: string, command: SagaCommandType): string {
  return `md5(${scoreId}::text || ':' || ${version}::text || ':${command}')::uuid`;
}

/**
 * The select list of one command message over the scores row `alias`, in the outbox's column order:
 * `INSERT INTO outbox (${OUTBOX_COLUMNS}) SELECT ${commandColumns('ApplyScore', 's')} FROM s`.
 */
export function commandColumns(command: SagaCommandType, alias: string): string {
  const { topic, payload } = SAGA_COMMANDS[command];
  return `${stepId(`${alias}.id`, `${alias}.version`, command)} AS message_id, '${topic}' AS topic,
    ${alias}.id::text AS message_key, '${command}' AS type, ${payload(alias)} AS payload`;
}

export const OUTBOX_COLUMNS = 'message_id, topic, message_key, type, payload';
