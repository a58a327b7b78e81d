/**
 * `npm start` as a new user meets it: time to ready and peak memory on a fresh data folder (the first
 * start, which creates the embedded database) and on the same folder again (the second start).
 *
 *   npm run bench:quickstart -- [--runs 3]
 *
 * Each run uses a new data folder and free ports, and a working directory of its own with no `.env`,
 * so that nothing on this machine changes what is measured. Time to ready runs from spawning what
 * `npm start` runs (node scripts/quickstart/start.mjs; npm's own start-up is left out) to the banner's
 * last line; CPU time (user + system, every thread) is read then, and is steadier than wall time on a
 * shared machine; peak RSS is the larger of the process tree's RSS sampled every 20 ms and the sum of
 * its processes' high-water marks (VmHWM). The banner's own figure counts from main() on, after the
 * modules have loaded. The baseline, measured in the same run, is node loading an empty module: the
 * floor under any start. Not a test: it prints figures and medians.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from './lib/children.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const START = join(ROOT, 'scripts/quickstart/start.mjs');
const READY = 'Press Ctrl-C to stop.';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runs: { type: 'string', default: '3' },
    npm: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench:quickstart -- [--runs 3] [--npm]

First and second start of npm start on a fresh data folder, --runs times; prints each run and medians.
--npm starts it through npm start itself, from the repository (so a .env there would count), and
the figures include npm's process; by default it starts what npm start runs, from an empty folder.`);
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('--runs takes a positive integer');
  process.exit(2);
}

interface Start {
  readyMs: number;
  /** CPU seconds used by then: steadier than wall time on a shared machine. */
  cpu: number;
  /** What the banner says ("ready (2.1 s)"); NaN for the baseline. */
  banner: number;
  peakMb: number;
}

/** Every process under `pid` (PGlite runs in-process today, but a child would count too). */
function tree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${pids[i]}/task`)) {
        const children = readFileSync(`/proc/${pids[i]}/task/${task}/children`, 'utf8').trim();
        if (children) pids.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const statusKb = (pid: number, field: 'VmHWM' | 'VmRSS') => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  } catch {
    return 0; // exited meanwhile
  }
};

/** CPU seconds (user + system) the processes have used so far, from /proc/<pid>/stat. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // exited meanwhile
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/**
 * Starts `args` under node, waits for `ready` in its output, reads its peak memory and CPU time, stops
 * it. Peak memory: the larger of the tree's RSS sampled every 20 ms (which sees short-lived children)
 * and the sum of the high-water marks of the processes alive at the end (which sees short peaks).
 */
async function measure(command: string[], env: Record<string, string>, cwd: string, ready: string) {
  const began = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? cwd,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so that Ctrl-C can be sent as a terminal sends it: to the group.
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let sampledKb = 0;
  const sampler = setInterval(() => {
    const kb = tree(child.pid!).reduce((sum, pid) => sum + statusKb(pid, 'VmRSS'), 0);
    sampledKb = Math.max(sampledKb, kb);
  }, 20);
  let output = '';
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(ready)) resolve(performance.now() - began);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`exited (${code}) before it was ready:\n${output}`)));
    });
    const pids = tree(child.pid!);
    const cpu = cpuSeconds(pids);
    const hwmKb = pids.reduce((sum, pid) => sum + statusKb(pid, 'VmHWM'), 0);
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    // npm itself ends on the signal (exit null) once the quick start below it has stopped cleanly.
    if (code !== 0 && !output.includes('stopped cleanly')) {
      throw new Error(`did not stop cleanly (exit ${code}):\n${output}`);
    }
    // The banner's own figure counts from main() on, after the modules have loaded.
    const banner = Number(/is ready \(([\d.]+) s\)/.exec(output)?.[1] ?? NaN);
    return { readyMs, cpu, banner, peakMb: Math.max(sampledKb, hwmKb) / 1024 } satisfies Start;
  } finally {
    clearInterval(sampler);
    try {
      process.kill(-child.pid!, 'SIGKILL'); // whatever is left of the group
    } catch {
      // none left
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (s: Start) =>
  `${(s.readyMs / 1000).toFixed(2)} s (cpu ${s.cpu.toFixed(2)} s${Number.isNaN(s.banner) ? '' : `, banner ${s.banner.toFixed(1)} s`}) ${s.peakMb.toFixed(0).padStart(5)} MB`;

const cwd = mkdtempSync(join(tmpdir(), 'scoreline-bench-cwd-'));
// The baseline waits for SIGINT like the quick start does, so that its memory can be read.
writeFileSync(
  join(cwd, 'empty.mjs'),
  'process.on("SIGINT", () => process.exit(0)); setInterval(() => {}, 1000); console.log("up");\n',
);
const load = loadavg();
console.log(
  `bench:quickstart: ${runs} run(s)${values.npm ? ' through npm start' : ''}; load average ${load.map((l) => l.toFixed(2)).join(' ')}`,
);
const baseline: Start[] = [];
const first: Start[] = [];
const second: Start[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'scoreline-bench-data-'));
    const env = {
      SCORELINE_DATA_DIR: dataDir,
      SCORE_MAKER_HTTP_PORT: String(await freePort()),
      LINE_PROVIDER_GRPC_PORT: String(await freePort()),
    };
    try {
      baseline.push(await measure([process.execPath, join(cwd, 'empty.mjs')], {}, cwd, 'up'));
      const [command, where] = values.npm ? [['npm', 'start'], ROOT] : [[process.execPath, START], cwd];
      first.push(await measure(command, env, where, READY));
      second.push(await measure(command, env, where, READY));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    console.log(
      `run ${run}: first ${fmt(first.at(-1)!)} | second ${fmt(second.at(-1)!)} | baseline ${fmt(baseline.at(-1)!)}`,
    );
  }
} finally {
  rmSync(cwd, { recursive: true, force: true });
}

const summary = (name: string, xs: Start[]) =>
  `${name.padEnd(13)} ready ${(median(xs.map((s) => s.readyMs)) / 1000).toFixed(2)} s   cpu ${median(
    xs.map((s) => s.cpu),
  ).toFixed(2)} s   peak RSS ${median(xs.map((s) => s.peakMb)).toFixed(0)} MB${
    Number.isNaN(xs[0]!.banner) ? '' : `   (banner ${median(xs.map((s) => s.banner)).toFixed(1)} s)`
  }`;
console.log(`\nmedians over ${runs} run(s) (wall time from spawn to the banner's last line; CPU time and`);
console.log('peak RSS of the process tree by then):');
console.log(summary('first start', first));
console.log(summary('second start', second));
console.log(summary('baseline', baseline) + '   (node, an empty module)');
const b = median(baseline.map((s) => s.readyMs));
console.log(
  `above baseline: first +${((median(first.map((s) => s.readyMs)) - b) / 1000).toFixed(2)} s, second +${(
    (median(second.map((s) => s.readyMs)) - b) /
    1000
  ).toFixed(2)} s; load average now ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
