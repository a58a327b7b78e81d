import { v1 } from '@scoreline/contracts';

/** A score's ledger as the CLI prints it in JSON: short enum names (null when unset), ISO times. */
export interface LedgerView {
  scoreId: string;
  /** null when all line-provider has seen of the score is RevertScore. */
  eventId: number | null;
  userId: string | null;
  maxVersion: number;
  appliedVersion: number;
  appliedRate: number | null;
  updatedAt: string | null;
  versions: {
    version: number;
    rate: number | null;
    applyOutcome: string | null;
    rejectReason: string | null;
    revertOutcome: string | null;
    recordedAt: string | null;
  }[];
}

/** `APPLY_SCORE_OUTCOME_APPLIED` → `APPLIED`; the zero value → null. */
const shortName = (json: string, prefix: string) => {
  const name = json.replace(prefix, '');
  return name === 'UNSPECIFIED' ? null : name;
};

export function toLedgerView(res: v1.GetScoreLedgerResponse): LedgerView {
  return {
    scoreId: res.scoreId,
    eventId: res.eventId || null,
    userId: res.userId || null,
    maxVersion: res.maxVersion,
    appliedVersion: res.appliedVersion,
    appliedRate: res.appliedRate || null,
    updatedAt: res.updatedAt?.toISOString() ?? null,
    versions: res.versions.map((v) => ({
      version: v.version,
      rate: v.rate || null,
      applyOutcome: shortName(v1.applyScoreOutcomeToJSON(v.applyOutcome), 'APPLY_SCORE_OUTCOME_'),
      rejectReason: shortName(v1.scoreRejectReasonToJSON(v.rejectReason), 'SCORE_REJECT_REASON_'),
      revertOutcome: shortName(v1.revertScoreOutcomeToJSON(v.revertOutcome), 'REVERT_SCORE_OUTCOME_'),
      recordedAt: v.recordedAt?.toISOString() ?? null,
    })),
  };
}

/** The ledger one field a line, then one line per recorded version. */
export function ledgerDetails(l: LedgerView): string {
  const fields: [string, string][] = [
    ['event', l.eventId === null ? '- (only reverts seen)' : String(l.eventId)],
    ['user', l.userId ?? '-'],
    ['max version', String(l.maxVersion)],
    ['in effect', l.appliedVersion > 0 ? `version ${l.appliedVersion}, rate ${l.appliedRate}` : 'none'],
    ['updated', l.updatedAt ?? '-'],
  ];
  const versions = l.versions.map((v) => {
    const apply =
      v.applyOutcome === 'REJECTED' ? `REJECTED (${v.rejectReason})` : (v.applyOutcome ?? 'not applied');
    const revert = v.revertOutcome ? `, revert ${v.revertOutcome}` : '';
    return `  v${v.version}  rate ${v.rate ?? '-'}  ${apply}${revert}  recorded ${v.recordedAt ?? '-'}`;
  });
  return [
    `Score ${l.scoreId}`,
    ...fields.map(([k, v]) => `  ${k.padEnd(12)}${v}`),
    `Versions (${l.versions.length})`,
    ...versions,
  ]
    .join('\n')
    .concat('\n');
}
