import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';
import { createTestDatabase, testServices, waitFor, type TestDatabase } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineProviderMigrations } from '../src/index.js';
import { ADMIN_TOKEN, INTERNAL_TOKEN } from './helpers.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function run(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

describe('npm run start:line-provider (src/main.ts)', () => {
  it('when a setting is malformed, then it exits 2 naming the variable and what it expects', async () => {
    const proc = run({
      LINE_PROVIDER_ADMIN_TOKEN: 'short',
      LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
      LINE_PROVIDER_GRPC_PORT: 'http',
    });
    expect(await proc.exit).toBe(2);
    expect(proc.output()).toContain('LINE_PROVIDER_ADMIN_TOKEN: expected a secret of at least 16 characters');
    expect(proc.output()).toContain('LINE_PROVIDER_GRPC_PORT: expected a TCP port');
    expect(proc.output()).toContain('hidden');
    expect(proc.output()).not.toContain('"short"');
  });

  describe.skipIf(!testServices().postgresUrl)(
    `against PostgreSQL${testServices().postgresUrl ? '' : ' [skipped: needs PostgreSQL]'}`,
    () => {
      let tdb: TestDatabase;
      beforeAll(async () => {
        tdb = await createTestDatabase(lineProviderMigrations);
      });
      afterAll(async () => {
        await tdb.dispose();
      });

      it('when SIGTERM arrives during a call, then the call finishes, and the process exits 0', async () => {
        const proc = run({
          LINE_PROVIDER_DATABASE_URL: tdb.url!,
          REDIS_URL: 'memory://',
          LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
          LINE_PROVIDER_GRPC_PORT: '0', // any free port: the log line says which
          LINE_PROVIDER_HTTP_PORT: '0',
          LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
          LINE_PROVIDER_INTERNAL_TOKEN: INTERNAL_TOKEN,
        });
        try {
          const port = await Promise.race([
            waitFor(() => /"port":(\d+).*line-provider listening/.exec(proc.output())?.[1], {
              what: 'the server',
              timeoutMs: 60_000,
            }).then(Number),
            proc.exit.then((code) => {
              throw new Error(`line-provider exited (${code}) before listening:\n${proc.output()}`);
            }),
          ]);
          const client = new v1.EventServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
          const metadata = (token: string) => {
            const m = new grpc.Metadata();
            m.set('authorization', `Bearer ${token}`);
            return m;
          };
          const created = await new Promise<v1.CreateEventResponse>((resolve, reject) =>
            client.createEvent(
              v1.CreateEventRequest.fromPartial({
                title: 'Shutdown',
                deadline: new Date(Date.now() + 86_400_000),
              }),
              metadata(ADMIN_TOKEN),
              (e, r) => (e ? reject(e) : resolve(r)),
            ),
          );
          const eventId = created.event!.id;

          // Hold the event's row lock so an ApplyScore is certainly in flight when the signal lands.
          const blocker = tdb.connect({ maxConnections: 1 });
          let release!: () => void;
          const held = blocker.transaction(async (tx) => {
            await tx.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [eventId]);
            await new Promise<void>((r) => (release = r));
          });
          await waitFor(() => release !== undefined, { what: 'the lock' });
          const inFlight = new Promise<v1.ApplyScoreResponse>((resolve, reject) =>
            client.applyScore(
              v1.ApplyScoreRequest.fromPartial({
                scoreId: randomUUID(),
                version: 1,
                eventId,
                userId: 'u',
                rate: 4,
              }),
              metadata(INTERNAL_TOKEN),
              (e, r) => (e ? reject(e) : resolve(r)),
            ),
          );
          // In flight: line-provider's statement waits for the blocker's row lock.
          await waitFor(
            async () =>
              (
                await tdb.db.query<{ n: number }>(
                  `SELECT count(*)::int AS n FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'`,
                )
              ).rows[0]!.n > 0,
            { what: 'the ApplyScore to wait for the lock' },
          );
          proc.child.kill('SIGTERM');
          await waitFor(() => proc.output().includes('shutting down'), { what: 'the shutdown to begin' });
          release();
          await held;
          await blocker.close();

          expect((await inFlight).outcome).toBe(v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_APPLIED);
          expect(await proc.exit).toBe(0);
          expect(proc.output()).toContain('shutdown complete');
          client.close();
          const { rows } = await tdb.db.query('SELECT score_count FROM events WHERE id = $1', [eventId]);
          expect(rows[0]).toEqual({ score_count: 1 });
        } finally {
          proc.child.kill('SIGKILL');
        }
      });
    },
  );
});
