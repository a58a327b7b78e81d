/**
 * `npm start` as a new user meets it: time to ready and peak memory on a fresh data folder (the first
 * start, which creates the embedded database) and on the same folder again (the second start).
 *
 *   npm run bench:quickstart -- [--runs 3] [--npm]
 *
 * Each run uses a new data folder and free ports, and a working directory of its own with no `.env`,
 * so that nothing on this machine changes what is measured (`--npm` starts it through `npm start` from
 * the repository instead, npm's process included). Time to ready runs from spawning what `npm start`
 * runs (node scripts/quickstart/start.mjs; npm's own start-up is left out) to the banner's last line;
 * CPU time (user + system, every thread) is read then, and is steadier than wall time on a shared
 * machine; peak RSS is the larger of the process tree's RSS sampled every 20 ms and the sum of its
 * processes' high-water marks (VmHWM). The banner's own figure counts from main() on, after the
 * modules have loaded. The baseline, measured in the same run, is node loading an empty module: the
 * floor under any start. Not a test: it prints figures and medians.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT } from '../lib/children.js';
import { processCpuSeconds } from '../lib/cpu.js';
import { parseOptions } from '../lib/options.js';
import { median } from '../lib/stats.js';

const READY = 'Press Ctrl-C to stop.';
const o = parseOptions('npm run bench:quickstart -- [--runs 3] [--npm]', {
  runs: [3, 'runs, each a first start, a second start and the baseline'],
  npm: [false, 'start through npm start itself, from the repository (a .env there would count)'],
});

/** Time to ready, CPU seconds used by then, what the banner says ("ready (2.1 s)"; NaN: the baseline). */
type Start = Record<'readyMs' | 'cpu' | 'banner' | 'peakMb', number>;

/** Every process under `pid`. */
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

const statusKb = (pids: number[], field: 'VmHWM' | 'VmRSS') =>
  pids.reduce((sum, pid) => {
    try {
      return (
        sum +
        Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
      );
    } catch {
      return sum; // exited meanwhile
    }
  }, 0);

/** Starts `command`, waits for `ready` in its output, reads its peak memory and CPU time, stops it. */
async function measure(command: string[], env: Record<string, string>, cwd: string, ready: string) {
  const began = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so that Ctrl-C can be sent as a terminal sends it: to the group.
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let rssKb = 0;
  const sampler = setInterval(() => (rssKb = Math.max(rssKb, statusKb(tree(child.pid!), 'VmRSS'))), 20);
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
    const cpu = pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);
    const hwmKb = statusKb(pids, 'VmHWM');
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    // npm itself ends on the signal (exit null) once the quick start below it has stopped cleanly.
    if (code !== 0 && !output.includes('stopped cleanly'))
      throw new Error(`did not stop cleanly (exit ${code}):\n${output}`);
    const banner = Number(/is ready \(([\d.]+) s\)/.exec(output)?.[1] ?? NaN);
    return { readyMs, cpu, banner, peakMb: Math.max(rssKb, hwmKb) / 1024 } satisfies Start;
  } finally {
    clearInterval(sampler);
    try {
      process.kill(-child.pid!, 'SIGKILL'); // whatever is left of the group
    } catch {
      // none left
    }
  }
}

const fmt = (s: Start) =>
  `${(s.readyMs / 1000).toFixed(2)} s (cpu ${s.cpu.toFixed(2)} s${Number.isNaN(s.banner) ? '' : `, banner ${s.banner.toFixed(1)} s`}) ${s.peakMb.toFixed(0).padStart(5)} MB`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const cwd = mkdtempSync(join(tmpdir(), 'scoreline-bench-cwd-'));
// The baseline waits for SIGINT like the quick start does, so that its memory can be read.
writeFileSync(
  join(cwd, 'empty.mjs'),
  'process.on("SIGINT", () => process.exit(0)); setInterval(() => {}, 1000); console.log("up");\n',
);
console.log(`bench:quickstart: ${o.runs} run(s)${o.npm ? ' through npm start' : ''}; load average ${load()}`);
const [baseline, first, second] = [[], [], []] as [Start[], Start[], Start[]];
try {
  for (let run = 1; run <= o.runs; run++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'scoreline-bench-data-'));
    const env = {
      SCORELINE_DATA_DIR: dataDir,
      SCORE_MAKER_HTTP_PORT: String(await freePort()),
      LINE_PROVIDER_GRPC_PORT: String(await freePort()),
    };
    try {
      baseline.push(await measure([process.execPath, join(cwd, 'empty.mjs')], {}, cwd, 'up'));
      const start = join(ROOT, 'scripts/quickstart/start.mjs');
      const [command, where] = o.npm ? [['npm', 'start'], ROOT] : [[process.execPath, start], cwd];
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

const m = (xs: Start[], pick: (s: Start) => number) => median(xs.map(pick));
const summary = (name: string, xs: Start[]) =>
  `${name.padEnd(13)} ready ${(m(xs, (s) => s.readyMs) / 1000).toFixed(2)} s   cpu ${m(xs, (s) => s.cpu).toFixed(2)} s   peak RSS ${m(xs, (s) => s.peakMb).toFixed(0)} MB${Number.isNaN(xs[0]!.banner) ? '' : `   (banner ${m(xs, (s) => s.banner).toFixed(1)} s)`}`;
const above = (xs: Start[]) => ((m(xs, (s) => s.readyMs) - m(baseline, (s) => s.readyMs)) / 1000).toFixed(2);
console.log(
  [
    `\nmedians over ${o.runs} run(s) (wall time from spawn to the banner's last line; CPU time and`,
    'peak RSS of the process tree by then):',
    summary('first start', first),
    summary('second start', second),
    `${summary('baseline', baseline)}   (node, an empty module)`,
    `above baseline: first +${above(first)} s, second +${above(second)} s; load average now ${load()}`,
  ].join('\n'),
);
