import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { waitFor } from '@scoreline/platform/testing';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts `node --import tsx <script>` from the repository root with this environment (and PATH). */
export function run(script: string, env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs the admin CLI to completion; returns its exit code and output. */
export async function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const proc = run('services/line-provider/src/entry-points/cli/main.ts', env, args);
  const code = await proc.exited;
  return { code, out: proc.output() };
}

export interface Target {
  api: string;
  token: string;
  cliEnv: Record<string, string>;
}

async function http(target: Target, method: string, path: string, body?: unknown) {
  const res = await fetch(`${target.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${target.token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    location: res.headers.get('location'),
  };
}

/**
 * The README's walkthrough, as a user would do it: list events, score one and watch it go PENDING →
 * CONFIRMED, change it and see the event's status move, create an event with the admin CLI, score it,
 * close it with the CLI and see the score become final. Returns what a restart should still show.
 */
export async function walkthrough(target: Target): Promise<{ scoreId: string; eventId: number }> {
  const list = await http(target, 'GET', '/events');
  expect(list.status).toBe(200);
  const events = list.body.events as { id: number; status: string }[];
  expect(events.length).toBeGreaterThan(0);
  const first = events[0]!;

  const posted = await http(target, 'POST', `/events/${first.id}/score`, { score: 5 });
  expect(posted.status).toBe(202);
  expect(posted.body).toMatchObject({ status: 'PENDING', score: 5, version: 1 });
  const scoreId = posted.body.id as string;
  expect(posted.location).toBe(`/scores/${scoreId}`);
  await waitFor(async () => (await http(target, 'GET', `/scores/${scoreId}`)).body.status === 'CONFIRMED', {
    what: 'CONFIRMED',
  });
  await waitFor(async () => (await http(target, 'GET', `/events/${first.id}`)).body.status === 'HIGH_SCORE', {
    what: 'HIGH_SCORE (the cache is invalidated by EventChanged)',
  });

  const changed = await http(target, 'POST', `/events/${first.id}/score`, { score: 1 });
  expect(changed.body).toMatchObject({ id: scoreId, version: 2, status: 'PENDING' });
  await waitFor(async () => (await http(target, 'GET', `/scores/${scoreId}`)).body.confirmed_score === 1, {
    what: 'the change',
  });
  await waitFor(async () => (await http(target, 'GET', `/events/${first.id}`)).body.status === 'LOW_SCORE', {
    what: 'LOW_SCORE',
  });

  const created = await cli(
    ['events', 'create', '--title', 'Walkthrough event', '--deadline', '+2h', '--json'],
    target.cliEnv,
  );
  expect(created.code, created.out).toBe(0);
  const eventId = (JSON.parse(created.out) as { id: number }).id;
  const scored = await http(target, 'POST', `/events/${eventId}/score`, { score: 3 });
  expect(scored.status).toBe(202);
  await waitFor(
    async () =>
      (await http(target, 'GET', `/scores/${scored.body.id as string}`)).body.status === 'CONFIRMED',
    {
      what: 'CONFIRMED on the new event',
    },
  );
  const closed = await cli(['events', 'close', String(eventId)], target.cliEnv);
  expect(closed.code, closed.out).toBe(0);
  await waitFor(
    async () => (await http(target, 'GET', `/scores/${scored.body.id as string}`)).body.final === true,
    {
      what: 'the score to become final',
    },
  );
  const late = await http(target, 'POST', `/events/${eventId}/score`, { score: 4 });
  expect(late.status).toBe(409);
  return { scoreId, eventId };
}

export async function readScore(target: Target, scoreId: string) {
  return (await http(target, 'GET', `/scores/${scoreId}`)).body;
}
