import type { ApplyOutcome, RejectReason, RevertOutcome } from '@scoreline/contracts/scores';
import { aggregateDelta, type Rate } from '../src/domain/event.js';
import {
  decideApply,
  decideRevert,
  type LedgerState,
  type VersionRecord,
} from '../src/domain/score-ledger.js';

/**
 * line-provider's score ledger in memory, driven by the pure rules of domain/score-ledger.ts one item
 * at a time, in (score id, version) order: what a batch must answer by definition. Tests compare the
 * SQL functions against it.
 */

export interface ModelApply {
  scoreId: string;
  version: number;
  eventId: number;
  userId: string;
  rate: Rate;
}
export interface ModelRevert {
  scoreId: string;
  version: number;
}
export interface ModelAnswer {
  outcome: ApplyOutcome | RevertOutcome;
  reason?: RejectReason | null;
  appliedVersion: number;
  appliedRate: Rate | null;
  eventVersion: number;
}

interface ModelEvent {
  open: boolean;
  version: number;
  count: number;
  sum: number;
  histogram: number[];
}

export function createLedgerModel() {
  const events = new Map<number, ModelEvent>();
  const ledgers = new Map<string, LedgerState & { eventId: number | null }>();
  /** Per score id, per version: what was answered, and the rate it carried. */
  const records = new Map<string, Map<number, VersionRecord & { rate: Rate | null }>>();
  const recordsOf = (scoreId: string) => {
    let map = records.get(scoreId);
    if (!map) records.set(scoreId, (map = new Map()));
    return map;
  };

  const ledgerOf = (scoreId: string, eventId: number | null) => {
    let ledger = ledgers.get(scoreId);
    if (!ledger) {
      ledger = { maxVersion: 0, appliedVersion: 0, appliedRate: null, eventId };
      ledgers.set(scoreId, ledger);
    }
    return ledger;
  };
  const move = (eventId: number, from: Rate | null, to: Rate | null) => {
    const event = events.get(eventId)!;
    const delta = aggregateDelta(from, to);
    event.count += delta.count;
    event.sum += delta.sum;
    delta.histogram.forEach((d, i) => (event.histogram[i]! += d));
  };
  /** Items in the order a batch takes them: by score id, then version, then position. */
  const inBatchOrder = <T extends { scoreId: string; version: number }>(items: readonly T[]) =>
    items
      .map((item, i) => ({ item, i }))
      .sort((a, b) =>
        a.item.scoreId === b.item.scoreId
          ? a.item.version - b.item.version || a.i - b.i
          : a.item.scoreId < b.item.scoreId
            ? -1
            : 1,
      );
  /** Each moved event's version grows by one per batch; every answer carries the version after it. */
  const finish = (answers: (ModelAnswer & { eventId: number | null })[], moved: Set<number>) => {
    for (const id of moved) events.get(id)!.version += 1;
    return answers.map(({ eventId, ...answer }) => ({
      ...answer,
      eventVersion: eventId === null ? 0 : (events.get(eventId)?.version ?? 0),
    }));
  };

  return {
    addEvent(id: number, version: number) {
      events.set(id, { open: true, version, count: 0, sum: 0, histogram: [0, 0, 0, 0, 0] });
    },
    closeEvent(id: number) {
      const event = events.get(id)!;
      event.open = false;
      event.version += 1;
    },
    event: (id: number) => events.get(id),

    applyBatch(items: readonly ModelApply[]): ModelAnswer[] {
      const answers: (ModelAnswer & { eventId: number | null })[] = [];
      const moved = new Set<number>();
      for (const { item, i } of inBatchOrder(items)) {
        const ledger = ledgerOf(item.scoreId, item.eventId);
        const versions = recordsOf(item.scoreId);
        const record = versions.get(item.version) ?? null;
        const event = events.get(item.eventId);
        const check = !event ? 'missing' : event.open ? 'open' : 'closed';
        const decision = decideApply(item.version, ledger, record, check);
        let outcome: ModelAnswer['outcome'] = 'APPLIED';
        let reason: RejectReason | null = null;
        if (decision.kind === 'answer') ({ outcome, reason } = decision);
        ledger.eventId ??= decision.kind === 'answer' ? null : item.eventId;
        if (decision.kind === 'reject') {
          outcome = 'REJECTED';
          reason = decision.reason;
          versions.set(item.version, {
            applyOutcome: 'REJECTED',
            rejectReason: reason,
            revertOutcome: null,
            rate: item.rate,
          });
          ledger.maxVersion = Math.max(ledger.maxVersion, item.version);
        }
        if (decision.kind === 'apply') {
          move(item.eventId, decision.fromRate, item.rate);
          moved.add(item.eventId);
          versions.set(item.version, {
            applyOutcome: 'APPLIED',
            rejectReason: null,
            revertOutcome: null,
            rate: item.rate,
          });
          Object.assign(ledger, {
            maxVersion: item.version,
            appliedVersion: item.version,
            appliedRate: item.rate,
          });
        }
        const { appliedVersion, appliedRate } = ledger;
        answers[i] = { outcome, reason, appliedVersion, appliedRate, eventVersion: 0, eventId: item.eventId };
      }
      return finish(answers, moved);
    },

    revertBatch(items: readonly ModelRevert[]): ModelAnswer[] {
      const answers: (ModelAnswer & { eventId: number | null })[] = [];
      const moved = new Set<number>();
      for (const { item, i } of inBatchOrder(items)) {
        const ledger = ledgerOf(item.scoreId, null);
        const versions = recordsOf(item.scoreId);
        const record = versions.get(item.version) ?? null;
        const decision = decideRevert(item.version, ledger, record);
        let outcome: RevertOutcome = 'REVERTED';
        if (decision.kind === 'answer') outcome = decision.outcome;
        if (decision.kind === 'record') {
          outcome = decision.outcome;
          const base = record ?? { applyOutcome: null, rejectReason: null, rate: null };
          versions.set(item.version, { ...base, revertOutcome: outcome });
          ledger.maxVersion = Math.max(ledger.maxVersion, item.version);
        }
        if (decision.kind === 'revert') {
          // What comes back: the latest earlier version that was applied and not itself reverted.
          let back: { version: number; rate: Rate } | undefined;
          for (const [version, r] of versions) {
            if (version >= item.version || r.applyOutcome !== 'APPLIED' || r.revertOutcome !== null) continue;
            if (!back || version > back.version) back = { version, rate: r.rate! };
          }
          move(ledger.eventId!, ledger.appliedRate, back?.rate ?? null);
          moved.add(ledger.eventId!);
          versions.set(item.version, { ...record!, revertOutcome: 'REVERTED' });
          ledger.appliedVersion = back?.version ?? 0;
          ledger.appliedRate = back?.rate ?? null;
        }
        const { appliedVersion, appliedRate } = ledger;
        answers[i] = { outcome, appliedVersion, appliedRate, eventVersion: 0, eventId: ledger.eventId };
      }
      return finish(answers, moved);
    },
  };
}
