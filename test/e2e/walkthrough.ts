import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import createClient from 'openapi-fetch';
import { expect } from 'vitest';
import { waitFor } from '@scoreline/platform/testing';
import type { components, paths } from '../../services/score-maker/src/gen/openapi.js';

type ApiScore = components['schemas']['Score'];
type ApiEvent = components['schemas']['Event'];

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
  return spawnProc(process.execPath, ['--import', 'tsx', script, ...args], env);
}

/** Starts `command` from `cwd` with this environment (and PATH, HOME), collecting what it writes. */
export function spawnProc(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd = repoRoot,
): Proc {
  const child = spawn(command, args, {
    cwd,
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

/**
 * The API as a client sees it: openapi-fetch typed by the types generated from the committed OpenAPI
 * document, so a change of the API that breaks clients breaks this file's typecheck first.
 */
export function apiClient(target: Target) {
  return createClient<paths>({ baseUrl: target.api, headers: { authorization: `Bearer ${target.token}` } });
}

/** The body of a successful answer; otherwise a failure naming the status and the problem. */
function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${result.response.status} ${result.response.url}: ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const getScore = async (target: Target, scoreId: string): Promise<ApiScore> =>
  ok(await apiClient(target).GET('/scores/{score_id}', { params: { path: { score_id: scoreId } } }));

const getEvent = async (target: Target, eventId: number): Promise<ApiEvent> =>
  ok(await apiClient(target).GET('/events/{event_id}', { params: { path: { event_id: eventId } } }));

/**
 * The README's walkthrough, as a user would do it: list events, score one and watch it go PENDING →
 * CONFIRMED, change it and see the event's status move, create an event with the admin CLI, score it,
 * close it with the CLI and see the score become final. Returns what a restart should still show.
 */
export async function walkthrough(target: Target): Promise<{ scoreId: string; eventId: number }> {
  const api = apiClient(target);
  const scoreEvent = (eventId: number, score: number) =>
    api.POST('/events/{event_id}/score', { params: { path: { event_id: eventId } }, body: { score } });

  const events = ok(await api.GET('/events')).events;
  expect(events.length).toBeGreaterThan(0);
  const first = events[0]!;

  const posted = await scoreEvent(first.id, 5);
  expect(posted.response.status).toBe(202);
  const score = ok(posted);
  expect(score).toMatchObject({ status: 'PENDING', score: 5, version: 1 });
  const scoreId = score.id;
  expect(posted.response.headers.get('location')).toBe(`/scores/${scoreId}`);
  await waitFor(async () => (await getScore(target, scoreId)).status === 'CONFIRMED', { what: 'CONFIRMED' });
  await waitFor(async () => (await getEvent(target, first.id)).status === 'HIGH_SCORE', {
    what: 'HIGH_SCORE (the cache is invalidated by EventChanged)',
  });

  const changed = ok(await scoreEvent(first.id, 1));
  expect(changed).toMatchObject({ id: scoreId, version: 2, status: 'PENDING' });
  await waitFor(async () => (await getScore(target, scoreId)).confirmed_score === 1, { what: 'the change' });
  await waitFor(async () => (await getEvent(target, first.id)).status === 'LOW_SCORE', { what: 'LOW_SCORE' });

  const created = await cli(
    ['events', 'create', '--title', 'Walkthrough event', '--deadline', '+2h', '--json'],
    target.cliEnv,
  );
  expect(created.code, created.out).toBe(0);
  const eventId = (JSON.parse(created.out) as { id: number }).id;
  const scored = await scoreEvent(eventId, 3);
  expect(scored.response.status).toBe(202);
  const scoredId = ok(scored).id;
  await waitFor(async () => (await getScore(target, scoredId)).status === 'CONFIRMED', {
    what: 'CONFIRMED on the new event',
  });
  const closed = await cli(['events', 'close', String(eventId)], target.cliEnv);
  expect(closed.code, closed.out).toBe(0);
  await waitFor(async () => (await getScore(target, scoredId)).final === true, {
    what: 'the score to become final',
  });
  const mine = ok(await api.GET('/me/scores')).scores;
  expect(mine.find((s) => s.id === scoredId)).toMatchObject({ final: true });

  // A refusal is a problem whose code a client branches on, and whose type link explains it.
  const late = await scoreEvent(eventId, 4);
  expect(late.response.status).toBe(409);
  expect(late.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  // The event check answers first (EVENT_CLOSED); SCORE_FINAL if the cached event was not yet closed.
  const code = late.error?.code;
  expect(['EVENT_CLOSED', 'SCORE_FINAL']).toContain(code);
  const explained = await fetch(new URL(late.error!.type, target.api));
  expect(explained.status).toBe(200);
  expect(await explained.text()).toContain(`id="${code}"`);
  return { scoreId, eventId };
}

export async function readScore(target: Target, scoreId: string): Promise<ApiScore> {
  return getScore(target, scoreId);
}
