import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Where the CPU time of a phase went, from /proc (Linux; elsewhere the figures read n/a): this process
 * (the load), each named child, PostgreSQL (told apart by process title: backends and autovacuum workers
 * of the bench's databases, the server's own processes, other databases' backends), every redis-server,
 * kernel threads, the biggest other processes (a shared machine's noise) and the machine as a whole.
 * A pid is the same process only with the same start time. A process that exits during the phase takes
 * its CPU time with it: the machine's busy time that no live process accounts for is "ended processes".
 */
const HZ = 100; // USER_HZ, 100 on every Linux this runs on
const cores = availableParallelism();

/** `start`: clock ticks after boot when it started, with the pid the process's identity. */
type Proc = { comm: string; start: number; ticks: number };

export interface CpuSample {
  at: number;
  processes: Map<number, Proc>;
  machine: { busy: number; interrupts: number; total: number } | undefined;
}

function stat(pid: string | number): Proc | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const rest = text.slice(close + 2).split(' ');
    // After "(comm) ": state is field 0, utime 11, stime 12, starttime 19 (man 5 proc).
    const ticks = Number(rest[11]) + Number(rest[12]);
    return { comm: text.slice(text.indexOf('(') + 1, close), start: Number(rest[19]), ticks };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number, max = 60): string {
  try {
    const words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const line = words.map((w) => w.replace(/^.*\/node_modules\//, '')).join(' ');
    return line.length > max ? `${line.slice(0, max - 3)}...` : line;
  } catch {
    return '?';
  }
}

const commands = new Map<number, string>();

/**
 * Every process, or (`only`) just those of the command names or pids given: a process is read once to
 * learn its name, then only if it matters, which is cheap enough to sample every 100 ms.
 */
export function sampleCpu(only?: { comms: readonly string[]; pids: readonly number[] }): CpuSample {
  const processes = new Map<number, Proc>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    // not Linux
  }
  const wanted = (pid: number, comm: string) => !only || only.comms.includes(comm) || only.pids.includes(pid);
  for (const name of names) {
    const pid = Number(name);
    const known = commands.get(pid);
    if (known !== undefined && !wanted(pid, known)) continue;
    const s = stat(pid);
    if (!s) continue;
    commands.set(pid, s.comm);
    if (wanted(pid, s.comm)) processes.set(pid, s);
  }
  let machine: CpuSample['machine'];
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const busy = total - (v[3] ?? 0) - (v[4] ?? 0);
    machine = { busy: busy / HZ, interrupts: ((v[5] ?? 0) + (v[6] ?? 0)) / HZ, total: total / HZ };
  } catch {
    machine = undefined;
  }
  return { at: performance.now(), processes, machine };
}

export type Pids = Record<string, number | undefined>;

/**
 * CPU seconds between two samples, by who used them: this process, the named ones, PostgreSQL, Redis,
 * kernel threads, other processes (other databases' backends included; biggest first), the machine;
 * `noise` is other and ended processes' share of a core (a shared machine).
 */
export function cpuUse(
  before: CpuSample,
  after: CpuSample,
  named: Pids,
  /** The bench's databases: their backends are PostgreSQL's, other databases' count as other. */
  databases: readonly string[],
) {
  const used = new Map<number, number>();
  let accounted = 0;
  for (const [pid, now] of after.processes) {
    const then = before.processes.get(pid);
    const seconds = (then && then.start === now.start ? now.ticks - then.ticks : now.ticks) / HZ;
    accounted += Math.max(0, seconds);
    if (seconds > 0) used.set(pid, seconds);
  }
  const take = (pid: number | undefined) => {
    const seconds = pid === undefined ? 0 : (used.get(pid) ?? 0);
    used.delete(pid!);
    return seconds;
  };
  const self = take(process.pid);
  const namedUse = Object.fromEntries(Object.entries(named).map(([name, pid]) => [name, take(pid)]));
  const postgres = { ours: 0, server: 0, otherDatabases: 0 };
  let redis = 0;
  let kernel = 0;
  const others: [number, number][] = [];
  for (const [pid, seconds] of used) {
    const comm = after.processes.get(pid)!.comm;
    const title = commandLine(pid, 200);
    if (comm === 'redis-server') redis += seconds;
    else if (comm !== 'postgres') {
      if (title === '')
        kernel += seconds; // kernel threads mostly work for the load itself
      else others.push([pid, seconds]);
    } else if (databases.some((db) => title.split(/\s+/).includes(db))) postgres.ours += seconds;
    else if (/ \[local\]|\(\d+\)/.test(title)) {
      postgres.otherDatabases += seconds;
      others.push([pid, seconds]);
    } else postgres.server += seconds;
  }
  others.sort((a, b) => b[1] - a[1]);
  const wall = (after.at - before.at) / 1000;
  let machine: { busy: number; share: number; interrupts: number; ended: number } | undefined;
  let noise = others.reduce((sum, [, s]) => sum + s, 0);
  if (before.machine && after.machine) {
    const busy = after.machine.busy - before.machine.busy;
    const interrupts = after.machine.interrupts - before.machine.interrupts;
    const ended = Math.max(0, busy - interrupts - accounted);
    const share = busy / (after.machine.total - before.machine.total);
    machine = { busy, share, interrupts, ended };
    noise += ended;
  }
  return { wall, self, named: namedUse, postgres, redis, kernel, others, machine, noise: noise / wall };
}

export type CpuUse = ReturnType<typeof cpuUse>;

/**
 * "load (this process) 25%, score-maker API 100%, postgres 40% (bench backends 35%), redis 30%, kernel
 * threads 5%, other processes 5% (…); machine busy 98% of 2 cores": percentages of one core but the last.
 */
export function describeCpu(use: CpuUse, self = 'load (this process)'): string {
  const pct = (seconds: number) => `${Math.round((seconds / use.wall) * 100)}%`;
  const pg = use.postgres.ours + use.postgres.server;
  const top = use.others
    .filter(([, s]) => s / use.wall >= 0.05)
    .slice(0, 3)
    .map(([pid, s]) => `${commandLine(pid)} ${pct(s)}`);
  const parts = [
    `${self} ${pct(use.self)}`,
    ...Object.entries(use.named).map(([name, s]) => `${name} ${pct(s)}`),
    `postgres ${pct(pg)} (bench backends ${pct(use.postgres.ours)})`,
    `redis ${pct(use.redis)}`,
    `kernel threads ${pct(use.kernel)}`,
    `other processes ${pct(use.others.reduce((sum, [, s]) => sum + s, 0))}${top.length ? ` (${top.join('; ')})` : ''}`,
  ];
  const m = use.machine;
  if (!m) return parts.join(', ');
  if (m.interrupts / use.wall >= 0.05) parts.push(`interrupts ${pct(m.interrupts)}`);
  if (m.ended / use.wall >= 0.1) parts.push(`ended processes ~${pct(m.ended)}`);
  return `${parts.join(', ')}; machine busy ${Math.round(m.share * 100)}% of ${cores} cores`;
}

/**
 * CPU per unit of work (a call, a request, a score) of each, in ms or µs: this process, each named child,
 * PostgreSQL (bench backends, server processes, other databases' backends), Redis, everything else (the
 * machine's busy time less all of those) and the machine.
 */
export function cpuPerUnit(use: CpuUse, units: number, scale: 'ms' | 'µs', self = 'load'): string {
  const f = (s: number) =>
    ((s * (scale === 'ms' ? 1e3 : 1e6)) / Math.max(1, units)).toFixed(scale === 'ms' ? 3 : 0);
  const pg = use.postgres;
  const named = Object.values(use.named).reduce((a, b) => a + b, 0);
  const attributed = use.self + named + pg.ours + pg.server + pg.otherDatabases + use.redis;
  const machine = use.machine
    ? `, everything else ${f(Math.max(0, use.machine.busy - attributed))}; machine ${f(use.machine.busy)} (busy ${Math.round(use.machine.share * 100)}% of ${cores} cores)`
    : '';
  return [
    `${self} ${f(use.self)}`,
    ...Object.entries(use.named).map(([name, s]) => `${name} ${f(s)}`),
    `postgres ${f(pg.ours + pg.server + pg.otherDatabases)} (bench backends ${f(pg.ours)}, server processes ${f(pg.server)}, other databases' backends ${f(pg.otherDatabases)})`,
    `redis ${f(use.redis)}${machine}`,
  ].join(', ');
}

/** CPU seconds used so far by one process (user + system), or undefined when it is gone. */
export const processCpuSeconds = (pid: number) => {
  const s = stat(pid);
  return s && s.ticks / HZ;
};
