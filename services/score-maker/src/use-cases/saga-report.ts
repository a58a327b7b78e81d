import * as grpc from '@grpc/grpc-js';
import type { ChannelTls } from '@scoreline/contracts';
import { isAppError, type Queryable } from '@scoreline/platform';
import { createLineProviderAdmin, type ScoreLedger } from '../data-access/line-provider-admin.js';
import { findSaga, type SagaRecord } from '../data-access/saga-lookup.js';
import { createSagaRepository } from '../data-access/saga-repository.js';
import { compareWithLedger, type VerdictKind } from '../domain/saga-verdict.js';

/**
 * What the operations CLI (`npm run sagas`) reads: the sagas in flight, and one score's saga as
 * score-maker records it beside line-provider's ledger of it (GetScoreLedger), and whether the two agree.
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

/** The sagas in flight (or only the stuck compensations), oldest first, with the counts of each kind. */
export async function listSagas(
  db: Queryable,
  options: { stuckOnly: boolean; stuckAfterMs: number; limit: number },
) {
  const sagas = createSagaRepository();
  const counts = await sagas.counts(db, options.stuckAfterMs);
  const rows = await sagas.list(db, options);
  return { counts, rows };
}
