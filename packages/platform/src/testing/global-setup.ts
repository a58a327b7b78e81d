/* eslint-disable no-console -- the run's own report of which services the tests use */
import net from 'node:net';
import type { TestProject } from 'vitest/node';
import type { TestServices } from './services.js';

/**
 * Finds the PostgreSQL and Redis the tests will use, once per run:
 *   TEST_DATABASE_URL  admin URL of a PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres;
 *                      "embedded" forces PGlite)
 *   TEST_REDIS_URL     Redis URL (default redis://127.0.0.1:6379; "none" skips Redis tests)
 * Without a reachable server, database tests fall back to PGlite and Redis tests are skipped with the
 * reason in their title. When CI is set, a missing service fails the whole run instead.
 */
export default async function setup(project: TestProject): Promise<void> {
  // eslint-disable-next-line no-restricted-properties -- test-run settings, read once here
  const environment = process.env;
  const pgSetting = environment.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisSetting = environment.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const services: TestServices = { postgresUrl: null, redisUrl: null, missing: {} };

  if (pgSetting === 'embedded') services.missing.postgres = 'TEST_DATABASE_URL=embedded';
  else if (await reachable(pgSetting, 5432)) services.postgresUrl = pgSetting;
  else services.missing.postgres = `PostgreSQL not reachable at ${redact(pgSetting)}`;

  if (redisSetting === 'none') services.missing.redis = 'TEST_REDIS_URL=none';
  else if (await reachable(redisSetting, 6379)) services.redisUrl = redisSetting;
  else services.missing.redis = `Redis not reachable at ${redact(redisSetting)}`;

  const ci = Boolean(environment.CI) && environment.CI !== 'false' && environment.CI !== '0';
  const problems = Object.values(services.missing);
  if (ci && problems.length > 0) {
    throw new Error(`CI is set, and tests may not skip for a missing service: ${problems.join('; ')}`);
  }
  console.log(
    `[scoreline tests] PostgreSQL: ${services.postgresUrl ? redact(services.postgresUrl) : `PGlite (${services.missing.postgres})`}; ` +
      `Redis: ${services.redisUrl ? redact(services.redisUrl) : `skipped (${services.missing.redis})`}`,
  );
  project.provide('scorelineServices', services);
}

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({
      host: hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: Number(port) || defaultPort,
    });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
