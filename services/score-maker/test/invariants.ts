import type { Database } from '@scoreline/platform';
import { checkInvariants as check, type InvariantReport } from '@scoreline/platform/testing';
import { LEGACY_USER } from '@scoreline/line-provider';

export type { InvariantReport };

/**
 * DESIGN.md §5 on both databases (see `checkInvariants` in the platform's testing helpers, which
 * `npm run chaos` uses too), with line-provider's anonymous legacy user left out of the agreement.
 */
export function checkInvariants(lineProviderDb: Database, scoreMakerDb: Database): Promise<InvariantReport> {
  return check(lineProviderDb, scoreMakerDb, { legacyUser: LEGACY_USER });
}
