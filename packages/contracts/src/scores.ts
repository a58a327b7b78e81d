/**
 * line-provider's answers about scores, as both services write them in code: the values of the
 * `ApplyScoreOutcome`, `ScoreRejectReason` and `RevertScoreOutcome` enums of event_service.proto without
 * their prefixes. Free of imports, so domain code of either service can use them.
 */

export type ApplyOutcome = 'APPLIED' | 'REJECTED' | 'SUPERSEDED';

/** What a ledger records of an ApplyScore: SUPERSEDED is an answer only, never recorded. */
export type RecordedApplyOutcome = Exclude<ApplyOutcome, 'SUPERSEDED'>;

/** Why line-provider refused an ApplyScore. */
export type RejectReason = 'EVENT_NOT_FOUND' | 'EVENT_CLOSED' | 'REVERTED';

export type RevertOutcome = 'REVERTED' | 'TOMBSTONED' | 'NOT_CURRENT';

/**
 * The longest user id, in code points. line-provider refuses a longer `user_id`, so score-maker refuses a
 * token whose `sub` is longer rather than accept scores it could never apply.
 */
export const USER_ID_MAX = 200;
