import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { waitFor } from '@scoreline/platform/testing';
import { repoRoot, spawnProc, type Proc, type Target } from './walkthrough.js';

// What `npm start` runs; it finds tsx and the repository's tsconfig from where it is.
const START = join(repoRoot, 'scripts/quickstart/start.mjs');
// From another working directory, `--import tsx` would not resolve: the token CLI names it by location.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * `npm start`'s entry point as a child process with this environment (and PATH, HOME), from the
 * repository like `npm start`, or from `cwd` (a folder with a `.env` of its own). Resolves once the
 * banner is out, or the process has exited.
 */
export async function startQuickstart(env: Record<string, string>, cwd = repoRoot): Promise<Proc> {
  const proc = spawnProc(process.execPath, [START], env, cwd);
  await waitFor(() => proc.output().includes('Press Ctrl-C to stop.') || proc.child.exitCode !== null, {
    what: 'the quick start to be ready',
    // A first start creates the embedded database: seconds on a quiet machine, more on a busy one.
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  return proc;
}

/** Ctrl-C, as a user stops it: a clean stop. */
export async function interrupt(proc: Proc): Promise<void> {
  proc.child.kill('SIGINT');
  expect(await proc.exited).toBe(0);
  expect(proc.output()).toContain('stopped cleanly');
}

/** The banner's line for one part of the system ("queue and cache", "ports", …), spaces squeezed. */
export function bannerLine(output: string, part: string): string {
  const line = output.split('\n').find((l) => l.trimStart().startsWith(`${part} `));
  expect(line, `the banner has a "${part}" line:\n${output}`).toBeDefined();
  return line!.trim().replace(/\s+/g, ' ');
}

/** What a walkthrough needs, read from the banner as a user would. */
export function targetFrom(output: string, httpPort: string, grpcPort: string, adminToken?: string): Target {
  return {
    api: `http://127.0.0.1:${httpPort}`,
    token: /export TOKEN=(ey\S+)/.exec(output)![1]!,
    cliEnv: {
      LINE_PROVIDER_ADDRESS: `127.0.0.1:${grpcPort}`,
      LINE_PROVIDER_ADMIN_TOKEN: adminToken ?? /LINE_PROVIDER_ADMIN_TOKEN=(\S+)/.exec(output)![1]!,
    },
  };
}

/** Runs `command` to its end from `cwd` with this environment (and PATH, HOME); it must exit 0. */
async function runToEnd(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, stderr).toBe(0);
  return { stdout, stderr };
}

/** Runs a line as pasted into a new terminal (bash, this PATH and HOME only); returns $TOKEN after it. */
export async function pasteForToken(line: string, cwd: string): Promise<{ token: string; stderr: string }> {
  const { stdout, stderr } = await runToEnd('bash', ['-c', `${line}\nprintf %s "$TOKEN"`], cwd);
  return { token: stdout, stderr };
}

/** `npm run token` run from `cwd` (which has no package.json: straight through node), reading its `.env`. */
export async function tokenIn(cwd: string, user: string): Promise<{ token: string; stderr: string }> {
  const script = join(repoRoot, 'services/score-maker/src/entry-points/cli/token.ts');
  const args = ['--import', TSX, script, '--user', user];
  const env = { TSX_TSCONFIG_PATH: join(repoRoot, 'tsconfig.json') };
  const { stdout, stderr } = await runToEnd(process.execPath, args, cwd, env);
  return { token: stdout.trim(), stderr };
}

/** The id of an open event, for a score. */
export async function openEventId(api: string): Promise<number> {
  const { events } = (await (await fetch(`${api}/events`)).json()) as { events: { id: number }[] };
  expect(events.length).toBeGreaterThan(0);
  return events[0]!.id;
}

/** How many Redis keys start with `prefix` (the proof that a run did or did not use Redis); `remove` deletes them. */
export async function redisKeys(url: string, prefix: string, remove = false): Promise<number> {
  const redis = new Redis(url);
  try {
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      count += keys.length;
      if (remove && keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    return count;
  } finally {
    await redis.quit();
  }
}

/** GET /me/scores with this token; its status says whether the API accepts the token. */
export async function myScoresStatus(api: string, token: string): Promise<number> {
  const res = await fetch(`${api}/me/scores`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** POST a score with this token and wait until it is CONFIRMED: the whole saga ran. */
export async function scoreAndConfirm(api: string, token: string, eventId: number, score: number) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const posted = await fetch(`${api}/events/${eventId}/score`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ score }),
  });
  expect(posted.status).toBe(202);
  const { id } = (await posted.json()) as { id: string };
  await waitFor(
    async () => {
      const res = await fetch(`${api}/scores/${id}`, { headers });
      return ((await res.json()) as { status: string }).status === 'CONFIRMED';
    },
    { what: `score ${id} CONFIRMED` },
  );
  return id;
}
