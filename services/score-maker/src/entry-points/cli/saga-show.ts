import { traceIdOf } from '@scoreline/platform';
import type { LedgerVersion } from '../../data-access/line-provider-admin.js';
import type { SagaReport } from '../../use-cases/saga-report.js';

/**
 * `npm run sagas -- show <score id>`: one score's saga as score-maker records it, beside line-provider's
 * ledger of it (GetScoreLedger), and whether the two agree, as text or JSON.
 */

/** 3 s, 4m 05s, 2h 03m, 3d 04h. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor(s / 3600) % 24)}h`;
}

const when = (date: Date, now: Date) => `${date.toISOString()} (${age(now.getTime() - date.getTime())} ago)`;
const row = (key: string, value: string) => `  ${key.padEnd(13)}${value}`;

function versionLine(v: LedgerVersion): string {
  const apply =
    v.applyOutcome === 'REJECTED' ? `REJECTED (${v.rejectReason ?? '?'})` : (v.applyOutcome ?? 'not applied');
  const revert = v.revertOutcome ? `, revert ${v.revertOutcome}` : '';
  const recorded = v.recordedAt ? `  recorded ${v.recordedAt.toISOString()}` : '';
  return `v${v.version}  rate ${v.rate ?? '-'}  ${apply}${revert}${recorded}`;
}

/** The report as text, one line per string. */
export function renderReport(report: SagaReport, now: Date): string[] {
  const s = report.scoreMaker;
  const lines = [
    `score-maker   score ${s.id}`,
    row('event', String(s.eventId)),
    row('user', s.userId),
    row('version', String(s.version)),
    row('status', s.status),
    row('rate', String(s.rate)),
    row(
      'confirmed',
      s.confirmedVersion > 0 ? `version ${s.confirmedVersion}, rate ${s.confirmedRate}` : 'none',
    ),
    row('reason', s.reason ?? '-'),
    row('final', s.final ? 'yes' : 'no'),
    row(
      'saga',
      s.sagaState === null
        ? `settled (last change ${when(s.updatedAt, now)})`
        : `${s.sagaState === 'APPLYING' ? 'applying' : 'compensating'} version ${s.version}` +
            (s.pendingSince ? ` since ${when(s.pendingSince, now)}` : ''),
    ),
    row(
      'last error',
      s.lastError === null
        ? '-'
        : `${s.lastError} at ${s.lastErrorAt ? when(s.lastErrorAt, now) : '?'}` +
            (s.lastErrorAt && s.pendingSince && s.lastErrorAt < s.pendingSince ? ', in an earlier saga' : ''),
    ),
    // Delivery attempts are counted by the queue, not stored with the score.
    row('attempts', 'not recorded (score-maker keeps the last error of a step, not a count)'),
    // The trace of the latest submission: every span of its saga, both services', is in it.
    row('trace', traceIdOf(s.traceparent) ?? '- (not traced: no OTEL_* exporter set when it was submitted)'),
    // Further facts about score-maker's side go here.
  ];

  const lp = report.lineProvider;
  if (lp === null) {
    lines.push(`line-provider ${report.lineProviderError}`);
  } else if (!lp.found) {
    lines.push('line-provider no record of this score (no ApplyScore or RevertScore of it reached it)');
  } else {
    lines.push(
      'line-provider ledger',
      row('event', lp.eventId === null ? '- (only reverts seen)' : String(lp.eventId)),
      row('user', lp.userId ?? '-'),
      row('max version', String(lp.maxVersion)),
      row(
        'in effect',
        lp.appliedVersion > 0 ? `version ${lp.appliedVersion}, rate ${lp.appliedRate}` : 'none',
      ),
      row('updated', lp.updatedAt ? when(lp.updatedAt, now) : '-'),
      ...lp.versions.map((v, i) => row(i === 0 ? 'versions' : '', versionLine(v))),
    );
  }
  lines.push(`verdict       ${report.verdictText}`);
  return lines;
}

/** The report as JSON: dates as ISO strings, with the saga's age in seconds. */
export function reportJson(report: SagaReport, now: Date): string {
  const s = report.scoreMaker;
  return JSON.stringify(
    {
      ...report,
      scoreMaker: {
        ...s,
        pendingSeconds:
          s.sagaState !== null && s.pendingSince
            ? Math.round((now.getTime() - s.pendingSince.getTime()) / 1000)
            : null,
        // Not stored: the queue counts deliveries; lastError is what score-maker keeps.
        attempts: null,
        traceId: traceIdOf(s.traceparent) ?? null,
      },
    },
    null,
    2,
  );
}
