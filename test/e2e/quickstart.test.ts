import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@scoreline/platform/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { readScore, run, walkthrough, type Proc, type Target } from './walkthrough.js';

/** `npm start`'s entry point as a child process, in a data folder of its own, on free ports. */
describe('npm start (one process, embedded databases, in-process broker)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'scoreline-quickstart-'));
  const httpPort = String(21_000 + Math.floor(Math.random() * 4000));
  const grpcPort = String(25_000 + Math.floor(Math.random() * 4000));
  const env = {
    SCORELINE_DATA_DIR: dataDir,
    SCORE_MAKER_HTTP_PORT: httpPort,
    LINE_PROVIDER_GRPC_PORT: grpcPort,
  };
  let proc: Proc | undefined;
  afterAll(async () => {
    await proc?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    proc = run('scripts/quickstart/main.ts', env);
    await waitFor(() => proc!.output().includes('Press Ctrl-C to stop.') || proc!.child.exitCode !== null, {
      what: 'the quick start to be ready',
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const out = proc.output();
    expect(out, out).toContain('Scoreline is ready');
    const target: Target = {
      api: `http://127.0.0.1:${httpPort}`,
      token: /export TOKEN=(\S+)/.exec(out)![1]!,
      cliEnv: {
        LINE_PROVIDER_ADDRESS: `127.0.0.1:${grpcPort}`,
        LINE_PROVIDER_ADMIN_TOKEN: /LINE_PROVIDER_ADMIN_TOKEN=(\S+)/.exec(out)![1]!,
      },
    };
    return { target, out };
  };

  it('when started, walked through and restarted, then it prints what a user needs and keeps the data', async () => {
    const { target, out } = await start();
    expect(out).toContain(`${target.api}/docs`);
    expect(out).toMatch(/curl -s -X POST .*\/events\/\d+\/score/);
    const docs = await fetch(`${target.api}/docs/`);
    expect(docs.status).toBe(200);
    const { scoreId } = await walkthrough(target);

    // Ctrl-C stops everything cleanly.
    proc!.child.kill('SIGINT');
    expect(await proc!.exited).toBe(0);
    expect(proc!.output()).toContain('stopped cleanly');

    // The same data folder: the same events, scores and token.
    const again = await start();
    expect(again.target.token).not.toBe('');
    const score = await readScore(again.target, scoreId);
    expect(score).toMatchObject({ id: scoreId, status: 'CONFIRMED', confirmed_score: 1, version: 2 });
    const events = (await (await fetch(`${again.target.api}/events?state=all`)).json()) as {
      events: { title: string }[];
    };
    expect(events.events.filter((e) => e.title === 'Walkthrough event')).toHaveLength(1);
    expect(events.events.length).toBe(4); // three demo events made once, plus the walkthrough's
  }, 180_000);
});
