import { inject } from 'vitest';

/** What the global setup found reachable; each test file reads it through `testServices()`. */
export interface TestServices {
  /** Admin URL of a PostgreSQL server (its `postgres` database), or null: tests use PGlite. */
  postgresUrl: string | null;
  /** Redis URL, or null: Redis tests are skipped (and the run fails when CI is set). */
  redisUrl: string | null;
  /** Why a service is missing, for skip messages. */
  missing: { postgres?: string; redis?: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    scorelineServices: TestServices;
  }
}

export function testServices(): TestServices {
  return inject('scorelineServices');
}

/** A describe-block title suffix that says why it is skipped, when it is. */
export function redisSkipReason(): string {
  const { redisUrl, missing } = testServices();
  return redisUrl ? '' : ` [skipped: ${missing.redis ?? 'Redis not configured'}]`;
}
