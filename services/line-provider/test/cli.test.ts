import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/entry-points/cli/run-cli.js';
import type { EventView } from '../src/entry-points/cli/output.js';
import { ADMIN_TOKEN, INTERNAL_TOKEN, startHarness, type Harness } from './helpers.js';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI_SCRIPT = 'services/line-provider/src/entry-points/cli/main.ts';

let h: Harness;
let address: string;
beforeAll(async () => {
  h = await startHarness();
  address = `127.0.0.1:${h.port}`;
});
afterAll(async () => {
  await h.dispose();
});

/** Runs the CLI in-process against the harness (admin token set unless `env` says otherwise). */
async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { LINE_PROVIDER_ADDRESS: address, LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
  });
  return { code, stdout, stderr };
}

async function cliJson<T>(argv: string[]): Promise<T> {
  const result = await cli([...argv, '--json']);
  expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as T;
}

const withinSeconds = (actual: string | null, expected: number, seconds = 5) =>
  Math.abs(new Date(actual!).getTime() - expected) < seconds * 1000;

describe('admin CLI, in-process', () => {
  it('when an event is created with an ISO deadline, then it is printed OPEN with that deadline and appears in the list', async () => {
    const created = await cli([
      'events',
      'create',
      '--title',
      'Cup final',
      '--deadline',
      '2099-12-01T18:00:00Z',
    ]);
    expect(created.code).toBe(0);
    expect(created.stderr).toBe('');
    const id = Number(/Created event (\d+)/.exec(created.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    expect(created.stdout).toMatch(/state\s+OPEN/);
    expect(created.stdout).toMatch(/deadline\s+2099-12-01T18:00:00Z/);

    const table = await cli(['events', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+STATUS\s+COUNT\s+AVERAGE\s+DEADLINE\s+TITLE$/);
    expect(table.stdout).toMatch(
      new RegExp(
        `^\\s*${id}\\s+OPEN\\s+PROCESSING\\s+0\\s+0\\.00\\s+2099-12-01T18:00:00Z\\s+Cup final$`,
        'm',
      ),
    );

    const listed = await cliJson<EventView[]>(['events', 'list']);
    expect(listed.find((e) => e.id === id)).toMatchObject({
      title: 'Cup final',
      state: 'OPEN',
      status: 'PROCESSING',
      deadline: '2099-12-01T18:00:00.000Z',
      scores: { count: 0, sum: 0, average: 0, histogram: [0, 0, 0, 0, 0] },
      version: 1,
    });
  });

  it('when an event is created with a relative deadline (+2h, +30m, +3d), then its deadline is that far from now', async () => {
    for (const [text, ms] of [
      ['+2h', 2 * 3_600_000],
      ['+30m', 30 * 60_000],
      ['+3d', 3 * 86_400_000],
    ] as const) {
      const event = await cliJson<EventView>([
        'events',
        'create',
        '--title',
        `In ${text}`,
        '--deadline',
        text,
      ]);
      expect(withinSeconds(event.deadline, Date.now() + ms), `${text}: ${event.deadline}`).toBe(true);
    }
  });

  it('when an event is read, updated and closed, then get shows each change and it ends CLOSED', async () => {
    const { id } = await cliJson<EventView>(['events', 'create', '--title', 'Semi', '--deadline', '+1d']);

    const got = await cli(['events', 'get', String(id)]);
    expect(got.code).toBe(0);
    expect(got.stdout).toContain(`Event ${id}`);
    expect(got.stdout).toMatch(/title\s+Semi/);

    const updated = await cliJson<EventView>([
      'events',
      'update',
      String(id),
      '--title',
      'Semi final',
      '--deadline',
      '2099-06-01T12:00:00+02:00',
    ]);
    expect(updated).toMatchObject({ title: 'Semi final', deadline: '2099-06-01T10:00:00.000Z', version: 2 });

    const closed = await cli(['events', 'close', String(id)]);
    expect(closed.code).toBe(0);
    expect(closed.stdout).toContain(`Closed event ${id}`);
    expect(closed.stdout).toMatch(/state\s+CLOSED/);
    expect(await cliJson<EventView>(['events', 'get', String(id)])).toMatchObject({ state: 'CLOSED' });

    const closedOnly = await cliJson<EventView[]>(['events', 'list', '--state', 'closed']);
    expect(closedOnly.map((e) => e.id)).toContain(id);
    expect(closedOnly.every((e) => e.state === 'CLOSED')).toBe(true);
  });

  it('when an event is cancelled, then it is CANCELLED and closing it is refused as not possible', async () => {
    const { id } = await cliJson<EventView>([
      'events',
      'create',
      '--title',
      'Rained off',
      '--deadline',
      '+1d',
    ]);
    const cancelled = await cliJson<EventView>(['events', 'cancel', String(id), '--reason', 'weather']);
    expect(cancelled.state).toBe('CANCELLED');

    const close = await cli(['events', 'close', String(id)]);
    expect(close).toMatchObject({ code: 1, stdout: '' });
    expect(close.stderr).toBe(`error: not possible now: event ${id} is cancelled\n`);
  });

  it('when the list is longer than --limit, then only that many are printed, with a note', async () => {
    for (let i = 0; i < 3; i++)
      await cli(['events', 'create', '--title', `Filler ${i}`, '--deadline', '+1d']);
    const table = await cli(['events', 'list', '--limit', '2']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4); // header, 2 rows, the note
    expect(lines[3]).toContain('raise --limit');
    expect(await cliJson<EventView[]>(['events', 'list', '--limit', '2'])).toHaveLength(2);
  });

  it('when help is asked for, then it prints every command and the deadline forms, exit 0', async () => {
    for (const argv of [['help'], ['--help'], ['events', 'create', '--help']]) {
      const result = await cli(argv);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('events update <id>');
      expect(result.stdout).toContain('+2h');
      expect(result.stdout).toContain('LINE_PROVIDER_ADMIN_TOKEN');
    }
    expect((await cli([])).code).toBe(2);
  });
});

describe('admin CLI errors', () => {
  it('when --title is missing, then exit 2 with the message and the usage line', async () => {
    const result = await cli(['events', 'create', '--deadline', '+1d']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain('error: missing --title');
    expect(result.stderr).toContain('usage: npm run cli -- events create --title <text> --deadline <when>');
  });

  it.each([
    ['not a time', 'tomorrow'],
    ['no time zone', '2099-01-01T10:00'],
    ['not a calendar date', '2099-02-30'],
  ])('when --deadline is %s, then exit 2 naming --deadline and the accepted forms', async (_, value) => {
    const result = await cli(['events', 'create', '--title', 'Bad', '--deadline', value]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--deadline "${value}"`);
    expect(result.stderr).toContain('+2h');
  });

  it('when the deadline is in the past, then the server refuses it: exit 1, the message names deadline', async () => {
    const result = await cli(['events', 'create', '--title', 'Late', '--deadline', '2020-01-01T00:00:00Z']);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe('error: invalid request: deadline must be in the future\n');
  });

  it('when the admin token is wrong or is the internal one, then exit 1 naming LINE_PROVIDER_ADMIN_TOKEN', async () => {
    for (const token of ['wrong-token-wrong-token', INTERNAL_TOKEN]) {
      const result = await cli(['events', 'create', '--title', 'Nope', '--deadline', '+1d'], {
        LINE_PROVIDER_ADMIN_TOKEN: token,
      });
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toContain('LINE_PROVIDER_ADMIN_TOKEN');
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    const { rows } = await h.db.query(`SELECT 1 FROM events WHERE title = 'Nope'`);
    expect(rows).toHaveLength(0);
  });

  it('when no admin token is set, then reads still work and admin commands exit 2 naming LINE_PROVIDER_ADMIN_TOKEN', async () => {
    const noToken = { LINE_PROVIDER_ADMIN_TOKEN: '' };
    expect((await cli(['events', 'list'], noToken)).code).toBe(0);
    const result = await cli(['events', 'close', '1'], noToken);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('LINE_PROVIDER_ADMIN_TOKEN');
    expect(result.stderr).toContain('admin command');
  });

  it('when the event id is unknown, then exit 1 with a not-found message', async () => {
    const result = await cli(['events', 'get', '987654321']);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe('error: not found: event 987654321 not found\n');
  });

  it('when the event id is not a number, then exit 2 before any call', async () => {
    const result = await cli(['events', 'get', 'abc']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('event id must be a whole number');
  });

  it('when line-provider cannot be reached, then exit 1 with "cannot reach" and the address, no stack', async () => {
    const result = await cli(['events', 'list'], { LINE_PROVIDER_ADDRESS: '127.0.0.1:1' });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(/^error: cannot reach line-provider at 127\.0\.0\.1:1 \(is it running\?\)/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('admin CLI: scores show', () => {
  it('when a score had a version applied and a later one reverted, then it shows the earlier in effect and both versions', async () => {
    const { id: eventId } = await cliJson<EventView>([
      'events',
      'create',
      '--title',
      'Scored',
      '--deadline',
      '+1d',
    ]);
    const scoreId = randomUUID();
    const item = { scoreId, eventId, userId: 'alice' };
    await h.call('applyScore', { ...item, version: 1, rate: 4 }, 'internal');
    await h.call('applyScore', { ...item, version: 2, rate: 1 }, 'internal');
    await h.call('revertScore', { scoreId, version: 2 }, 'internal');

    const text = await cli(['scores', 'show', scoreId.toUpperCase()]);
    expect(text, text.stderr).toMatchObject({ code: 0, stderr: '' });
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 5)).toEqual([
      `Score ${scoreId}`,
      `  event       ${eventId}`,
      '  user        alice',
      '  max version 2',
      '  in effect   version 1, rate 4',
    ]);
    expect(lines.slice(6, 7)).toEqual(['Versions (2)']);
    expect(lines[7]).toMatch(/^ {2}v1 {2}rate 4 {2}APPLIED {2}recorded \S+Z$/);
    expect(lines[8]).toMatch(/^ {2}v2 {2}rate 1 {2}APPLIED, revert REVERTED {2}recorded \S+Z$/);

    const ledger = await cliJson<{ appliedVersion: number; versions: { revertOutcome: string | null }[] }>([
      'scores',
      'show',
      scoreId,
    ]);
    expect(ledger).toMatchObject({ scoreId, eventId, userId: 'alice', maxVersion: 2, appliedVersion: 1 });
    expect(ledger.versions.map((v) => v.revertOutcome)).toEqual([null, 'REVERTED']);
  });

  it('when the score is unknown, malformed, or asked without the admin token, then it exits 1 or 2 with the reason', async () => {
    const unknown = randomUUID();
    expect(await cli(['scores', 'show', unknown])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `error: not found: line-provider has no record of score ${unknown}\n`,
    });
    const malformed = await cli(['scores', 'show', '42']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('score id must be a UUID');
    expect(malformed.stderr).toContain('usage: npm run cli -- scores show <score id>');
    const noToken = await cli(['scores', 'show', unknown], { LINE_PROVIDER_ADMIN_TOKEN: '' });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('"scores show" is an admin command');
    const internal = await cli(['scores', 'show', unknown], { LINE_PROVIDER_ADMIN_TOKEN: INTERNAL_TOKEN });
    expect(internal.code).toBe(1);
    expect(internal.stderr).toContain("another role's token");
  });
});

describe('admin CLI as a process', () => {
  it('when the script runs as a child process with settings in its environment, then it prints the list as JSON', async () => {
    const { id } = await cliJson<EventView>(['events', 'create', '--title', 'Spawned', '--deadline', '+1d']);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', CLI_SCRIPT, 'events', 'list', '--json', '--limit', '500'],
      {
        cwd: REPO_ROOT,
        env: { LINE_PROVIDER_ADDRESS: address },
        timeout: 30_000,
      },
    );
    const events = JSON.parse(stdout) as EventView[];
    expect(events.find((e) => e.id === id)).toMatchObject({ title: 'Spawned', state: 'OPEN' });
  });
});
