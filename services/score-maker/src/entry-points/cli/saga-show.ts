import * as grpc from '@grpc/grpc-js';
import type { ChannelTls } from '@scoreline/contracts';
import { isAppError, traceIdOf, type Queryable } from '@scoreline/platform';
import {
  createLineProviderAdmin,
  type LedgerVersion,
  type ScoreLedger,
} from '../../data-access/line-provider-admin.js';
import { findSaga, type SagaRecord } from '../../data-access/saga-lookup.js';
import { compareWithLedger, type VerdictKind } from '../../domain/saga-verdict.js';

/**
 * `npm run sagas -- show <score id>`: one score's saga as score-maker records it, beside line-provider's
 * ledger of it (GetScoreLedger), and whether the two agree.
 */

export interface LineProviderSettings {
  address: string;
  /** Unset: line-provider is not asked, and only score-maker's side is shown. */
  adminToken: string | undefined;
  timeoutMs: number;
  tls: ChannelTls | undefined;
}

/**
 * agree, differ: both sides were read. The others say why line-provider's side is missing: it could not
 * be reached, it refused the admin token, or no admin token is set.
 */
export type ShowVerdict = VerdictKind | 'unreachable' | 'refused' | 'not-asked';

export interface SagaReport {
  scoreMaker: SagaRecord;
  /** found: false when line-provider has no record of the score; null when it was not read. */
  lineProvider: ({ found: true } & ScoreLedger) | { found: false } | null;
  /** Why line-provider's side is missing (lineProvider null). */
  lineProviderError: string | null;
  verdict: ShowVerdict;
  verdictText: string;
}

/** Why line-provider could not be asked, as an operator would fix it. */
function failure(error: unknown, address: string): { verdict: ShowVerdict; text: string } {
  if (isAppError(error, 'UNAUTHENTICATED')) {
    return {
      verdict: 'refused',
      text: `line-provider refused the admin token (${error.message}): set LINE_PROVIDER_ADMIN_TOKEN to the token line-provider was started with`,
    };
  }
  if (isAppError(error, 'PERMISSION_DENIED')) {
    return {
      verdict: 'refused',
      text: `line-provider refused the call (${error.message}): LINE_PROVIDER_ADMIN_TOKEN holds another role's token, not the admin one`,
    };
  }
  const cause = isAppError(error) ? (error.cause as Partial<grpc.ServiceError> | undefined) : undefined;
  const details = cause?.details ?? (error instanceof Error ? error.message : String(error));
  if (cause?.code === grpc.status.DEADLINE_EXCEEDED) {
    return {
      verdict: 'unreachable',
      text: `line-provider at ${address} did not answer in time (LINE_PROVIDER_CALL_TIMEOUT)`,
    };
  }
  // grpc-js: "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.
  // Resolution note: ": the part worth reading is the socket's error.
  const transport = /Last error: (?:Error: )?(.*?)\.?\s*(?:Resolution note:.*)?$/.exec(details)?.[1];
  return {
    verdict: 'unreachable',
    text: `cannot reach line-provider at ${address} (is it running?): ${transport && transport !== 'null' ? transport : details}`,
  };
}

/** The report, or null when score-maker has no score with this id. */
export async function lookUpSaga(
  db: Queryable,
  scoreId: string,
  lineProvider: LineProviderSettings,
): Promise<SagaReport | null> {
  const score = await findSaga(db, scoreId);
  if (!score) return null;
  if (lineProvider.adminToken === undefined) {
    return {
      scoreMaker: score,
      lineProvider: null,
      lineProviderError: 'not asked: LINE_PROVIDER_ADMIN_TOKEN is not set',
      verdict: 'not-asked',
      verdictText: 'line-provider not asked (LINE_PROVIDER_ADMIN_TOKEN is not set): score-maker only',
    };
  }
  const admin = createLineProviderAdmin({
    address: lineProvider.address,
    adminToken: lineProvider.adminToken,
    callTimeoutMs: lineProvider.timeoutMs,
    tls: lineProvider.tls,
  });
  try {
    const ledger = await admin.scoreLedger(scoreId);
    const verdict = compareWithLedger(score, ledger);
    return {
      scoreMaker: score,
      lineProvider: ledger ? { found: true, ...ledger } : { found: false },
      lineProviderError: null,
      verdict: verdict.kind,
      verdictText: verdict.text,
    };
  } catch (error) {
    const { verdict, text } = failure(error, lineProvider.address);
    const label = verdict === 'unreachable' ? 'line-provider unreachable' : 'line-provider refused';
    return {
      scoreMaker: score,
      lineProvider: null,
      lineProviderError: text,
      verdict,
      verdictText: `${label}: score-maker's side only`,
    };
  } finally {
    admin.dispose();
  }
}

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
