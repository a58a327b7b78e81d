import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  armCrashPoints,
  CRASH_AT_VARIABLE,
  crashMarker,
  parseCrashAt,
  type CrashPointName,
} from '../src/crash-points.js';

const moduleUrl = new URL('../src/crash-points.ts', import.meta.url).href;

/** Runs a process that hits `api.after-commit` three times, printing after each hit it survives. */
function hitThrice(crashAt: string | undefined) {
  const script = `import { crashPoint } from ${JSON.stringify(moduleUrl)};
for (let i = 1; i <= 3; i++) { crashPoint('api.after-commit'); console.log('survived ' + i); }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    env: { PATH: process.env.PATH, ...(crashAt === undefined ? {} : { [CRASH_AT_VARIABLE]: crashAt }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

describe('crash points', () => {
  it('when the spec names points, then each gets its trigger: the first hit, the Nth, or a percentage', () => {
    expect(parseCrashAt('')).toEqual(new Map());
    expect(parseCrashAt(' api.after-commit , relay.after-publish@3,worker.before-ack@2.5%')).toEqual(
      new Map<CrashPointName, unknown>([
        ['api.after-commit', { nth: 1 }],
        ['relay.after-publish', { nth: 3 }],
        ['worker.before-ack', { probability: 0.025 }],
      ]),
    );
  });

  it('when the spec has an unknown name or a malformed trigger, then it is refused with the known names', () => {
    expect(() => parseCrashAt('api.after-comit')).toThrow(
      /unknown crash point "api.after-comit"; known: api/,
    );
    for (const bad of [
      'api.after-commit@0',
      'api.after-commit@x',
      'api.after-commit@0%',
      'api.after-commit@101%',
    ])
      expect(() => parseCrashAt(bad), bad).toThrow(/after @ comes/);
    expect(() => parseCrashAt('api.after-commit@1@2')).toThrow(/more than one @/);
  });

  it('when nothing is armed, then there is no hook at all; when a point is armed, then only its Nth hit fires', () => {
    expect(armCrashPoints(undefined)).toBeUndefined();
    expect(armCrashPoints('')).toBeUndefined();
    const fired: string[] = [];
    const hook = armCrashPoints('worker.after-answer@3', {
      die: (name, hit) => fired.push(`${name}#${hit}`),
    })!;
    for (let i = 0; i < 5; i++) {
      hook('worker.after-answer');
      hook('worker.before-ack');
    }
    expect(fired).toEqual(['worker.after-answer#3']);
  });

  it('when a point is armed with a percentage, then each hit fires with that probability', () => {
    const draws = [0.5, 0.09, 0.1, 0.01];
    const fired: number[] = [];
    const hook = armCrashPoints('relay.after-publish@10%', {
      die: (_name, hit) => fired.push(hit),
      random: () => draws.shift()!,
    })!;
    for (let i = 0; i < 4; i++) hook('relay.after-publish');
    expect(fired).toEqual([2, 4]);
  });

  it('when a process reaches an armed point, then it dies by SIGKILL right there, after printing the marker', async () => {
    const died = await hitThrice('api.after-commit@2');
    expect(died.signal).toBe('SIGKILL');
    expect(died.stdout).toBe('survived 1\n');
    expect(died.stderr).toBe(crashMarker('api.after-commit', 2));

    const unarmed = await hitThrice(undefined);
    expect(unarmed).toMatchObject({ code: 0, signal: null, stdout: 'survived 1\nsurvived 2\nsurvived 3\n' });

    const typo = await hitThrice('api.after-comit');
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('unknown crash point "api.after-comit"');
    expect(typo.stdout).toBe('');
  });
});
