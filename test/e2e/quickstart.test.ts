import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { freePort, testServices } from '@scoreline/platform/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  bannerLine,
  interrupt,
  myScoresStatus,
  openEventId,
  pasteForToken,
  redisKeys,
  scoreAndConfirm,
  startQuickstart,
  targetFrom,
  tokenIn,
} from './quickstart-process.js';
import { cli, readScore, repoRoot, run, walkthrough, type Proc } from './walkthrough.js';

/**
 * `npm start`'s entry point as a child process, in a data folder of its own, on free ports: first
 * with nothing else set, then on the same data with REDIS_URL in the environment, then with a `.env`
 * in its working directory. Each time the banner must say where each part comes from, and be right.
 */
describe('npm start (one process, one embedded database, in-process broker)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'scoreline-quickstart-'));
  const redisUrl = testServices().redisUrl;
  const prefix = `scoreline-qs-${randomBytes(4).toString('hex')}`;
  let ports: { http: string; grpc: string };
  let proc: Proc | undefined;
  const walked = { scoreId: '', eventId: 0, demoToken: '' };
  // A test that fails half-way must not leave its quick start holding the ports the next one needs.
  afterEach(async () => {
    await proc?.stop();
    proc = undefined;
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (redisUrl) await redisKeys(redisUrl, prefix, true);
  });

  it('when started with nothing set, walked through and stopped, then the banner is true and its token command works as pasted', async () => {
    ports = { http: String(await freePort()), grpc: String(await freePort()) };
    // Only what a second copy on this machine needs: its own data folder and ports. The Redis prefix
    // is unused unless Redis is, which is what the last check proves.
    const env = {
      SCORELINE_DATA_DIR: dataDir,
      SCORE_MAKER_HTTP_PORT: ports.http,
      LINE_PROVIDER_GRPC_PORT: ports.grpc,
      REDIS_PREFIX: prefix,
    };
    expect(
      existsSync(join(repoRoot, '.env')),
      'a .env in the checkout would change what npm start reads',
    ).toBe(false);
    proc = await startQuickstart(env);
    const out = proc.output();
    expect(out, out).toContain('Scoreline is ready');
    const target = targetFrom(out, ports.http, ports.grpc);
    expect(out).toContain(`${target.api}/docs`);
    expect(out).toMatch(/curl -s -X POST .*\/events\/\d+\/score/);
    expect((await fetch(`${target.api}/docs/`)).status).toBe(200);

    const embedded = `embedded PostgreSQL in ${dataDir}/pglite/`;
    expect(bannerLine(out, 'line-provider data')).toBe(
      `line-provider data ${embedded}, schema line_provider [default]`,
    );
    expect(bannerLine(out, 'score-maker data')).toBe(
      `score-maker data ${embedded}, schema score_maker [default]`,
    );
    expect(bannerLine(out, 'queue and cache')).toBe('queue and cache in-process, no Redis [default]');
    expect(bannerLine(out, 'ports')).toBe(
      `ports HTTP ${ports.http} [from the environment], gRPC ${ports.grpc} [from the environment]`,
    );
    expect(bannerLine(out, 'secrets')).toBe(
      `secrets JWT_SECRET, LINE_PROVIDER_ADMIN_TOKEN, LINE_PROVIDER_INTERNAL_TOKEN [generated, kept in ${dataDir}/secrets.json]`,
    );
    // True: the database is there, and the demo token is signed with the secret kept there.
    expect(existsSync(join(dataDir, 'pglite', 'PG_VERSION'))).toBe(true);
    const { jwtSecret } = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as {
      jwtSecret: string;
    };
    await jwtVerify(target.token, new TextEncoder().encode(jwtSecret));

    // The token command exactly as printed, in a new terminal in the checkout.
    const line = /^\s*(export TOKEN=\$\(.*npm run -s token.*\))\s*$/m.exec(out)?.[1];
    expect(line, out).toBe(`export TOKEN=$(SCORELINE_DATA_DIR=${dataDir} npm run -s token -- --user alice)`);
    const pasted = await pasteForToken(line!, repoRoot);
    expect(pasted.stderr).toContain(`signed with npm start's generated secret from ${dataDir}/secrets.json`);
    expect(await myScoresStatus(target.api, pasted.token)).toBe(200);

    const { scoreId, eventId } = await walkthrough(target);
    Object.assign(walked, { scoreId, eventId, demoToken: target.token });
    if (redisUrl) expect(await redisKeys(redisUrl, prefix)).toBe(0);
    await interrupt(proc);
  }, 300_000);

  it.skipIf(!redisUrl)(
    'when REDIS_URL is set in the environment, then it uses Redis, says so, and keeps the data',
    async () => {
      const env = {
        SCORELINE_DATA_DIR: dataDir,
        SCORE_MAKER_HTTP_PORT: ports.http,
        LINE_PROVIDER_GRPC_PORT: ports.grpc,
        REDIS_URL: redisUrl!,
        REDIS_PREFIX: prefix,
      };
      proc = await startQuickstart(env);
      const out = proc.output();
      expect(out, out).toContain('Scoreline is ready');
      expect(bannerLine(out, 'queue and cache')).toBe(
        `queue and cache Redis at ${redisUrl}, key prefix ${prefix} [from the environment]`,
      );
      expect(bannerLine(out, 'score-maker data')).toContain('[default]');
      const target = targetFrom(out, ports.http, ports.grpc);
      // The same secret, kept in the data folder: yesterday's token still works.
      expect(await myScoresStatus(target.api, walked.demoToken)).toBe(200);

      // The data survived the restart: the same events (three demo ones, once) and scores.
      expect(await readScore(target, walked.scoreId)).toMatchObject({
        status: 'CONFIRMED',
        confirmed_score: 1,
      });
      const events = (await (await fetch(`${target.api}/events?state=all`)).json()) as {
        events: { title: string }[];
      };
      expect(events.events.filter((e) => e.title === 'Walkthrough event')).toHaveLength(1);
      expect(events.events.length).toBe(4);

      // A score goes through the saga over Redis, with a token from the banner's command pasted again.
      const pasted = await pasteForToken(/export TOKEN=\$\(.*\)/.exec(out)![0], repoRoot);
      await scoreAndConfirm(target.api, pasted.token, await openEventId(target.api), 2);
      expect(await redisKeys(redisUrl!, prefix)).toBeGreaterThan(0);
      await interrupt(proc);
    },
    300_000,
  );

  it.skipIf(!redisUrl)(
    'when a .env in the working directory sets Redis, a port and secrets, then it honours them, says "from .env", and npm run token there signs with its JWT_SECRET',
    async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'scoreline-quickstart-cwd-'));
      const dotenv = {
        SCORELINE_DATA_DIR: dataDir,
        REDIS_URL: redisUrl!,
        REDIS_PREFIX: `${prefix}-dotenv`,
        SCORE_MAKER_HTTP_PORT: String(await freePort()),
        JWT_SECRET: `dotenv-secret-${randomBytes(16).toString('hex')}`,
        LINE_PROVIDER_ADMIN_TOKEN: `dotenv-admin-${randomBytes(8).toString('hex')}`,
      };
      writeFileSync(
        join(cwd, '.env'),
        Object.entries(dotenv)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
      );
      try {
        proc = await startQuickstart({ LINE_PROVIDER_GRPC_PORT: ports.grpc }, cwd);
        const out = proc.output();
        expect(out, out).toContain('Scoreline is ready');
        expect(bannerLine(out, 'queue and cache')).toBe(
          `queue and cache Redis at ${redisUrl}, key prefix ${dotenv.REDIS_PREFIX} [from .env]`,
        );
        expect(bannerLine(out, 'ports')).toBe(
          `ports HTTP ${dotenv.SCORE_MAKER_HTTP_PORT} [from .env], gRPC ${ports.grpc} [from the environment]`,
        );
        expect(bannerLine(out, 'secrets')).toBe(
          `secrets JWT_SECRET, LINE_PROVIDER_ADMIN_TOKEN [from .env]; LINE_PROVIDER_INTERNAL_TOKEN [generated, kept in ${dataDir}/secrets.json]`,
        );
        expect(bannerLine(out, 'line-provider data')).toBe(
          `line-provider data embedded PostgreSQL in ${dataDir}/pglite/, schema line_provider [default]`,
        );
        expect(out).toContain('export TOKEN=$(npm run -s token -- --user alice)');
        const api = `http://127.0.0.1:${dotenv.SCORE_MAKER_HTTP_PORT}`;

        // True: the .env's JWT_SECRET is the one in force (the first run's token no longer is) ...
        expect(await myScoresStatus(api, walked.demoToken)).toBe(401);
        const signed = await tokenIn(cwd, 'carol');
        expect(signed.stderr).toContain(`signed with JWT_SECRET from ${join(cwd, '.env')}`);
        await scoreAndConfirm(api, signed.token, await openEventId(api), 3);
        // ... so are its admin token and its Redis, and the data is the same folder's.
        const created = await cli(
          ['events', 'create', '--title', 'From .env', '--deadline', '+1h', '--json'],
          {
            LINE_PROVIDER_ADDRESS: `127.0.0.1:${ports.grpc}`,
            LINE_PROVIDER_ADMIN_TOKEN: dotenv.LINE_PROVIDER_ADMIN_TOKEN,
          },
        );
        expect(created.code, created.out).toBe(0);
        expect(await redisKeys(redisUrl!, dotenv.REDIS_PREFIX)).toBeGreaterThan(0);
        await interrupt(proc);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
    300_000,
  );

  it('when the data folder is from an earlier version, then it stops and says to npm run reset, which empties it', async () => {
    const old = mkdtempSync(join(tmpdir(), 'scoreline-quickstart-old-'));
    for (const service of ['line-provider', 'score-maker']) {
      mkdirSync(join(old, service));
      writeFileSync(join(old, service, 'PG_VERSION'), '17\n');
    }
    writeFileSync(join(old, 'secrets.json'), '{}');
    try {
      const stale = run('scripts/quickstart/main.ts', { SCORELINE_DATA_DIR: old });
      expect(await stale.exited).toBe(2);
      expect(stale.output()).toContain('from an earlier version of the quick start');
      expect(stale.output()).toContain(`SCORELINE_DATA_DIR=${old} npm run reset`);
      expect(existsSync(join(old, 'line-provider', 'PG_VERSION'))).toBe(true); // nothing touched

      const reset = run('scripts/reset.mjs', { SCORELINE_DATA_DIR: old });
      expect(await reset.exited).toBe(0);
      expect(existsSync(old)).toBe(false);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });
});
