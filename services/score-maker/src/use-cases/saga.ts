import {
  crashPoint,
  isAppError,
  type Broker,
  type BrokerMessage,
  type Database,
  traceIdOf,
  type Logger,
} from '@scoreline/platform';
import { MAX_SCORE_BATCH, type LineProviderClient } from '../data-access/line-provider-client.js';
import type { SagaPosition, SagaRepository } from '../data-access/saga-repository.js';
import { settleApply, settleRevert, timedOut } from '../domain/saga.js';
import type { ApplyScoreCommand, RevertScoreCommand } from '../domain/score.js';
import type { SagaObserver } from './saga-metrics.js';

/*
 * The saga's worker side (DESIGN.md §3), a batch of steps at a time:
 *
 *   apply     T2 ApplyScore for every step still current, in one line-provider call, then T3: every
 *             answer settled in one statement. REJECTED compensates T1 at once (back to line-provider's
 *             value, with the reason). A transient failure retries the step, or past the timeout
 *             compensates it: beginRevert moves it to REVERTING and queues RevertScore.
 *   revert    the timeout's compensation: RevertScore until line-provider takes it, then the score
 *             mirrors what line-provider has in effect, marked UNAVAILABLE.
 *   giveUp    a step out of deliveries compensates as a timeout does (a safety net behind apply's own).
 *   redrive   the sweeper: sagas unsettled for too long get their current step published again.
 *   reconcile the safety net for lost EventChanged messages (event-changes.ts handles the messages).
 *
 * Every step is idempotent: a step is acted on only while its score is still at that version and step;
 * line-provider's calls are idempotent per (score id, version); settlements match on (version, step).
 * So a batch delivered twice, or a step re-driven while its first copy runs, changes nothing twice.
 */

/** One saga step as delivered: the message id, its delivery count and the command. */
export interface Step<C> {
  id: string;
  attempt: number;
  command: C;
  /** The trace context of the request that submitted the score, when it was traced. */
  traceparent?: string;
}

/** What every log line about one step carries: its score, version and trace. */
const stepFields = (s: Step<{ scoreId: string; version: number }>) => ({
  scoreId: s.command.scoreId,
  version: s.command.version,
  traceId: traceIdOf(s.traceparent),
});

/** Steps to try again later, by message id, each with the error that held it back. */
export type Retries = Map<string, unknown>;

export interface SagaSettings {
  /** Deliveries of one ApplyScore before the timeout's compensation. */
  maxAttempts: number;
  /** Age of a saga after which a transient failure compensates instead of retrying. */
  timeoutMs: number;
}

/** Transient: worth retrying. Anything not known to be permanent counts as transient: never drop. */
export function isTransient(error: unknown): boolean {
  return !isAppError(error, 'INVALID_ARGUMENT') && !isAppError(error, 'NOT_FOUND');
}

const stepKey = (c: { scoreId: string; version: number }) => `${c.scoreId}:${c.version}`;

/** One step per (score, version): copies of a step in one batch are handled once. */
function distinct<C extends { scoreId: string; version: number }>(steps: readonly Step<C>[]): Step<C>[] {
  const seen = new Set<string>();
  return steps.filter((s) => {
    const key = stepKey(s.command);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const halves = <T>(items: readonly T[]): [T[], T[]] => {
  const mid = Math.ceil(items.length / 2);
  return [items.slice(0, mid), items.slice(mid)];
};

export function createSaga(deps: {
  db: Database;
  sagas: SagaRepository;
  lineProvider: Pick<LineProviderClient, 'applyScores' | 'revertScores' | 'getEvent'>;
  broker: Pick<Broker, 'publish'>;
  settings: SagaSettings;
  logger: Logger;
  now?: () => Date;
  observer?: SagaObserver;
}) {
  const { db, sagas, lineProvider, settings, logger } = deps;
  const now = deps.now ?? (() => new Date());

  /** Why these steps failed, for the operations console; a failure to record it changes nothing else. */
  async function recordFailure(scoreIds: string[], error: unknown): Promise<void> {
    try {
      await sagas.recordFailure(db, scoreIds, error instanceof Error ? error.message : String(error));
    } catch (recordError) {
      logger.warn({ err: recordError }, 'recording a saga step failure failed');
    }
  }

  /** T2 → T3 for a batch of ApplyScore steps; returns the steps to retry. */
  async function apply(steps: readonly Step<ApplyScoreCommand>[]): Promise<Retries> {
    const retries: Retries = new Map();
    const positions = await sagas.positions(
      db,
      steps.map((s) => s.command.scoreId),
    );
    // Superseded (the user changed the score since) or settled already: nothing left to do.
    const current = distinct(steps).filter((s) => {
      const at = positions.get(s.command.scoreId);
      return at?.version === s.command.version && at.sagaState === 'APPLYING';
    });
    for (const chunk of chunks(current, MAX_SCORE_BATCH)) await applyChunk(chunk, positions, retries);
    return retries;
  }

  async function applyChunk(
    steps: Step<ApplyScoreCommand>[],
    positions: Map<string, SagaPosition>,
    retries: Retries,
  ): Promise<void> {
    let results;
    try {
      results = await lineProvider.applyScores(steps.map((s) => s.command));
    } catch (error) {
      if (!isTransient(error) && steps.length > 1) {
        // line-provider refuses a whole call for one malformed item: split to set the others free.
        for (const half of halves(steps)) await applyChunk(half, positions, retries);
        return;
      }
      const expired = steps.filter(
        (s) =>
          !isTransient(error) ||
          timedOut({
            attempt: s.attempt,
            pendingSince: positions.get(s.command.scoreId)?.pendingSince ?? null,
            now: now(),
            ...settings,
          }),
      );
      for (const s of steps) if (!expired.includes(s)) retries.set(s.id, error);
      await recordFailure(
        steps.map((s) => s.command.scoreId),
        error,
      );
      if (expired.length > 0) {
        for (const s of expired) {
          logger.warn({ err: error, ...stepFields(s) }, 'ApplyScore gave up; compensating with RevertScore');
        }
        const compensating = await sagas.beginRevert(
          db,
          expired.map((s) => s.command),
        );
        deps.observer?.compensating(compensating);
      }
      return;
    }
    crashPoint('worker.after-answer');
    await sagas.settle(
      db,
      'APPLYING',
      steps.map((s, i) => {
        const result = results[i]!;
        return {
          scoreId: s.command.scoreId,
          version: s.command.version,
          settlement: settleApply(result.outcome, result.reason, result),
        };
      }),
      deps.observer?.applied,
    );
  }

  /**
   * The timeout's compensation for a batch of RevertScore steps; returns the steps to retry (without a
   * limit: line-provider must never apply a given-up version late). Delivered even when the user has
   * changed the score since.
   */
  async function revert(steps: readonly Step<RevertScoreCommand>[]): Promise<Retries> {
    const retries: Retries = new Map();
    for (const chunk of chunks(distinct(steps), MAX_SCORE_BATCH)) await revertChunk(chunk, retries);
    return retries;
  }

  async function revertChunk(steps: Step<RevertScoreCommand>[], retries: Retries): Promise<void> {
    let results;
    try {
      results = await lineProvider.revertScores(steps.map((s) => s.command));
    } catch (error) {
      if (!isTransient(error) && steps.length > 1) {
        for (const half of halves(steps)) await revertChunk(half, retries);
        return;
      }
      for (const s of steps) {
        logger.warn({ err: error, ...stepFields(s), attempt: s.attempt }, 'RevertScore failed; retrying');
      }
      for (const s of steps) retries.set(s.id, error);
      await recordFailure(
        steps.map((s) => s.command.scoreId),
        error,
      );
      return;
    }
    crashPoint('worker.after-answer');
    await sagas.settle(
      db,
      'REVERTING',
      steps.map((s, i) => ({
        scoreId: s.command.scoreId,
        version: s.command.version,
        settlement: settleRevert(results[i]!),
      })),
      deps.observer?.reverted,
    );
  }

  /** An ApplyScore step ran out of deliveries: compensate it as a timeout does. */
  async function giveUp(step: Step<ApplyScoreCommand>, error: unknown): Promise<void> {
    logger.error({ err: error, ...step.command, ...stepFields(step) }, 'ApplyScore exhausted its attempts');
    const compensating = await sagas.beginRevert(db, [step.command]);
    deps.observer?.compensating(compensating);
    await recordFailure([step.command.scoreId], error);
  }

  /**
   * Re-drives sagas from the database, the source of truth: every saga unsettled for longer than
   * `afterMs` gets its current step published again under the step's own message id. While the first
   * copy is alive (waiting, delayed for a retry, in flight) the broker ignores the new one; when Redis
   * lost it (restart, FLUSHALL, an evicted key), the copy takes its place. So a lost message delays a
   * saga by at most `afterMs` plus one sweep, and never loses it. Returns the sagas re-driven.
   */
  async function redrive(afterMs: number, limit = 1000): Promise<number> {
    const stale = await sagas.staleCommands(db, afterMs, limit);
    const byTopic = new Map<string, BrokerMessage[]>();
    for (const { topic, message } of stale) byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
    for (const [topic, messages] of byTopic) await deps.broker.publish(topic, messages);
    if (stale.length > 0) logger.debug({ sagas: stale.length }, 'sweeper re-drove stale sagas');
    return stale.length;
  }

  /**
   * The safety net for lost EventChanged messages: asks line-provider about every event that still has
   * scores not marked final, and marks them final when the event has closed (or no longer exists).
   */
  async function reconcile(limit = 1000): Promise<number> {
    const closed: number[] = [];
    for (const eventId of await sagas.eventsWithOpenScores(db, limit)) {
      const event = await lineProvider.getEvent(eventId);
      // Still open (or past its deadline but not closed yet: line-provider's closer will announce it).
      if (!event || event.state !== 'OPEN') closed.push(eventId);
    }
    const marked = await db.transaction((tx) => sagas.markEventsFinal(tx, closed));
    if (marked > 0) logger.info({ scores: marked }, 'reconciliation marked scores of closed events final');
    return marked;
  }

  return { apply, revert, giveUp, redrive, reconcile };
}

export type Saga = ReturnType<typeof createSaga>;
