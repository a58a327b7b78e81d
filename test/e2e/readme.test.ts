import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@scoreline/platform/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { codeBlocks, shellLines } from '../docs/markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * One step of the README's walkthrough: the commands between two blank lines, and what the comment
 * above them quotes in backticks (each quote must appear in their output). "A moment later" in the
 * comment means the answer settles asynchronously: the step is run again until it shows the quotes.
 */
interface Step {
  commands: string[];
  comment: string;
  expects: string[];
  eventually: boolean;
}

function walkthroughSteps(readme: string): Step[] {
  const block = codeBlocks(readme).find((b) => b.section === 'Walkthrough' && b.lang === 'bash');
  if (!block) throw new Error('README.md has no bash block under "## Walkthrough"');
  const steps: Step[] = [];
  let step: Step | undefined;
  for (const line of shellLines(block.text)) {
    if (line.blank) {
      step = undefined;
      continue;
    }
    step ??= steps[steps.push({ commands: [], comment: '', expects: [], eventually: false }) - 1]!;
    if (line.command) step.commands.push(line.command);
    if (line.comment) step.comment += ` ${line.comment}`;
  }
  for (const s of steps) {
    s.expects = [...s.comment.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    s.eventually = /a moment later/i.test(s.comment);
  }
  return steps;
}

/**
 * `export NAME=value …` lines as the banner prints them, first value of each name. Values that are
 * themselves commands (`export TOKEN=$(npm run -s token …)`) are for other situations and left out.
 */
function exportsIn(banner: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [, assignments] of banner.matchAll(/\bexport ((?:[A-Z_][A-Z0-9_]*=\S+\s*)+)/g)) {
    for (const [, name, value] of assignments!.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) {
      if (!value!.includes('$') && !(name! in found)) found[name!] = value!;
    }
  }
  return found;
}

/** A bash reading commands from a pipe, as a terminal would have them typed: state carries over. */
function startShell(env: Record<string, string>) {
  const child: ChildProcess = spawn('bash', ['--noprofile', '--norc'], {
    cwd: root,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  let count = 0;
  return {
    /** Runs one command; its stdin is /dev/null so that it cannot eat the commands that follow. */
    async run(command: string): Promise<{ status: number; output: string }> {
      const marker = `__readme_command_${++count}__`;
      const start = output.length;
      child.stdin!.write(`{\n${command}\n} </dev/null; printf '\\n${marker} %d\\n' "$?"\n`);
      const end = await waitFor(
        () => (output.includes(`${marker} `, start) ? output.indexOf(marker, start) : false),
        {
          what: `"${command}" to finish`,
          timeoutMs: 60_000,
          intervalMs: 25,
        },
      );
      const status = Number(/^\s*(\d+)/.exec(output.slice(end + marker.length))?.[1] ?? NaN);
      return { status, output: output.slice(start, end) };
    },
    close: () => child.kill('SIGKILL'),
  };
}

describe('the README walkthrough, run as written against npm start', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const steps = walkthroughSteps(readme);
  const dataDir = mkdtempSync(join(tmpdir(), 'scoreline-readme-'));
  let quickstart: ChildProcess | undefined;
  let shell: ReturnType<typeof startShell> | undefined;
  afterAll(async () => {
    shell?.close();
    if (quickstart && quickstart.exitCode === null) {
      const exited = new Promise((resolve) => quickstart!.once('exit', resolve));
      quickstart.kill('SIGINT');
      const timer = setTimeout(() => quickstart!.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when read, then it quotes what matters and needs nothing a fresh machine may lack', () => {
    const commands = steps.flatMap((s) => s.commands).join('\n');
    expect(steps.length).toBeGreaterThan(5);
    // jq and uuidgen are missing from many fresh machines; node and curl are what the README asks for.
    expect(commands).not.toMatch(/\b(jq|uuidgen|python3?|http)\s/);
    const quoted = steps.flatMap((s) => s.expects);
    expect(quoted).toEqual(expect.arrayContaining(['202 Accepted', '"status":"CONFIRMED"', '"final":true']));
    for (const step of steps.filter((s) => s.eventually)) {
      // Steps run again until their answer settles must only read.
      expect(step.commands.join('\n'), step.comment).not.toMatch(
        /-X POST|events (create|update|close|cancel)/,
      );
    }
  });

  it('when each command runs in bash in order, then each answer shows what the README says', async () => {
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    let banner = '';
    // What `npm start` runs, taken from package.json (without npm, whose own process would stand between).
    const scripts = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    const [node, ...startArgs] = scripts.start!.split(/\s+/);
    expect(node, `npm start runs: ${scripts.start}`).toBe('node');
    quickstart = spawn(process.execPath, startArgs, {
      cwd: root,
      env: {
        ...base,
        SCORELINE_DATA_DIR: dataDir,
        SCORE_MAKER_HTTP_PORT: String(httpPort),
        LINE_PROVIDER_GRPC_PORT: String(grpcPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    quickstart.stdout!.on('data', (c: Buffer) => (banner += c.toString()));
    quickstart.stderr!.on('data', (c: Buffer) => (banner += c.toString()));
    const exited = new Promise<never>((_, reject) =>
      quickstart!.once('exit', () => reject(new Error(`npm start exited:\n${banner}`))),
    );
    exited.catch(() => undefined); // it exits at the end too, when stopped
    // The variables the banner tells users to export, as it prints them.
    const exported = await Promise.race([
      exited,
      waitFor(
        () => {
          const found = exportsIn(banner);
          return found.TOKEN && found.LINE_PROVIDER_ADMIN_TOKEN ? found : false;
        },
        { what: `npm start to print the export lines\n${banner}`, timeoutMs: 120_000, intervalMs: 100 },
      ),
    ]);

    // Ports are free ones rather than 8002 and 50051, which may be taken: the API's address is
    // substituted in the commands, and the admin CLI is told where line-provider listens.
    expect(readme).toContain('localhost:8002');
    shell = startShell({ ...base, LINE_PROVIDER_ADDRESS: `127.0.0.1:${grpcPort}`, ...exported });
    for (const step of steps) {
      const commands = step.commands.map((c) => c.replaceAll('localhost:8002', `127.0.0.1:${httpPort}`));
      const runStep = async () => {
        let output = '';
        for (const command of commands) {
          const result = await shell!.run(command);
          expect(result.status, `${command}\n${result.output}`).toBe(0);
          output += result.output;
        }
        return output;
      };
      const shows = (output: string) => step.expects.every((quote) => output.includes(quote));
      let output = await runStep();
      if (step.eventually) {
        output = await waitFor(async () => (shows(output) ? output : ((output = await runStep()), false)), {
          what: `${step.comment.trim()}\nlast answer: ${output}`,
          timeoutMs: 30_000,
          intervalMs: 250,
        });
      }
      for (const quote of step.expects) expect(output, `${step.comment.trim()}`).toContain(quote);
    }
  }, 240_000);
});
