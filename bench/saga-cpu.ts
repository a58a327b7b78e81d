import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where the CPU goes during a phase of bench/saga.ts (the approach of bench/api-cpu.ts), read from /proc
 * (Linux): this process (the load generator and the settle poller), each named child, every `postgres`
 * process, every `redis-server` process, the biggest other processes (a shared machine's noise) and the
 * machine as a whole. Elsewhere every figure reads as n/a.
 * Processes that exit during the phase take their CPU time with them (an undercount, never negative).
 */

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux this runs on

interface ProcessTicks {
  comm: string;
  ticks: number;
}

function stat(pid: number | string): ProcessTicks | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const rest = text.slice(close + 2).split(' ');
    // After "(comm) ": state is field 0, utime 11, stime 12 (man 5 proc).
    return { comm: text.slice(text.indexOf('(') + 1, close), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

function allProcesses(): Map<number, ProcessTicks> {
  const all = new Map<number, ProcessTicks>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return all;
  }
  for (const pid of pids) {
    const s = stat(pid);
    if (s) all.set(Number(pid), s);
  }
  return all;
}

function machine(): { busy: number; total: number } | undefined {
  try {
    const values = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    const words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const line = words.map((w) => w.replace(/^.*\/node_modules\//, '')).join(' ');
    return line.length > 60 ? `${line.slice(0, 57)}...` : line;
  } catch {
    return '?';
  }
}

export interface CpuSample {
  at: number;
  processes: Map<number, ProcessTicks>;
  machine: { busy: number; total: number } | undefined;
}

export function sampleCpu(): CpuSample {
  return { at: performance.now(), processes: allProcesses(), machine: machine() };
}

/** The command name of every process seen by sampleFocused(), by pid. */
const commands = new Map<number, string>();

/**
 * A cheaper sample, for sampling often: only the processes named `comms` (e.g. every `postgres`) and
 * the pids given, and the machine. A process is read once to learn its name, then only if it matters.
 */
export function sampleFocused(comms: readonly string[], pids: readonly number[]): CpuSample {
  const processes = new Map<number, ProcessTicks>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return { at: performance.now(), processes, machine: undefined };
  }
  for (const name of names) {
    const pid = Number(name);
    const known = commands.get(pid);
    if (known !== undefined && !comms.includes(known) && !pids.includes(pid)) continue;
    const s = stat(pid);
    if (!s) continue;
    commands.set(pid, s.comm);
    if (comms.includes(s.comm) || pids.includes(pid)) processes.set(pid, s);
  }
  return { at: performance.now(), processes, machine: machine() };
}

/**
 * "load generator (this process) 25%, score-maker API 100%, postgres 0%, redis 30%, other 5% (…); machine
 * busy 98% of 2 cores": percentages of one core, except the last; `other` is the others' share of a core.
 */
export function describeCpu(
  before: CpuSample,
  after: CpuSample,
  named: Record<string, number | undefined>,
  cores: number,
): { text: string; other: number } {
  const wall = (after.at - before.at) / 1000;
  const pct = (seconds: number) => `${Math.round((seconds / wall) * 100)}%`;
  const used = new Map<number, number>();
  for (const [pid, now] of after.processes) {
    const then = before.processes.get(pid);
    const ticks = then && then.comm === now.comm ? now.ticks - then.ticks : now.ticks;
    if (ticks > 0) used.set(pid, ticks / TICKS_PER_SECOND);
  }
  const take = (pid: number | undefined) => {
    if (pid === undefined) return 0;
    const seconds = used.get(pid) ?? 0;
    used.delete(pid);
    return seconds;
  };
  const byCommand = (comm: string) => {
    let seconds = 0;
    for (const [pid, s] of used) {
      if (after.processes.get(pid)?.comm === comm) {
        seconds += s;
        used.delete(pid);
      }
    }
    return seconds;
  };
  const parts = [`load generator (this process) ${pct(take(process.pid))}`];
  for (const [name, pid] of Object.entries(named)) parts.push(`${name} ${pct(take(pid))}`);
  parts.push(`postgres ${pct(byCommand('postgres'))}`, `redis ${pct(byCommand('redis-server'))}`);
  const others = [...used].sort((a, b) => b[1] - a[1]);
  const otherTotal = others.reduce((sum, [, s]) => sum + s, 0);
  const top = others
    .filter(([, s]) => s / wall >= 0.05)
    .slice(0, 3)
    .map(([pid, s]) => `${commandLine(pid)} ${pct(s)}`);
  parts.push(`other ${pct(otherTotal)}${top.length ? ` (${top.join('; ')})` : ''}`);
  const other = otherTotal / wall;
  if (!before.machine || !after.machine) return { text: parts.join(', '), other };
  const busy = after.machine.busy - before.machine.busy;
  const total = after.machine.total - before.machine.total;
  return {
    text: `${parts.join(', ')}; machine busy ${Math.round((busy / total) * 100)}% of ${cores} cores`,
    other,
  };
}

/** CPU seconds between two samples: this process, each named child, postgres, redis, and the machine's busy total. */
export function cpuSeconds(
  before: CpuSample,
  after: CpuSample,
  named: Record<string, number | undefined>,
): Record<string, number> {
  const used = (pid: number) => {
    const now = after.processes.get(pid);
    if (!now) return 0;
    const then = before.processes.get(pid);
    return (then && then.comm === now.comm ? now.ticks - then.ticks : now.ticks) / TICKS_PER_SECOND;
  };
  const byCommand = (comm: string) => {
    let seconds = 0;
    for (const [pid, p] of after.processes) if (p.comm === comm) seconds += used(pid);
    return seconds;
  };
  const result: Record<string, number> = { 'load generator': used(process.pid) };
  for (const [name, pid] of Object.entries(named)) result[name] = pid === undefined ? 0 : used(pid);
  result.postgres = byCommand('postgres');
  result.redis = byCommand('redis-server');
  if (before.machine && after.machine) result['machine busy'] = after.machine.busy - before.machine.busy;
  return result;
}

/**
 * The `postgres` processes' CPU seconds between two samples, by what each one serves, from its process
 * title (/proc/<pid>/cmdline, read now: "postgres: 15/main: <user> <database> <client> <state>"):
 * backends of `databases` (autovacuum workers on them included), backends of any other database (other
 * users of a shared server), and the server's own processes (checkpointer, WAL writer, …).
 */
export function postgresSeconds(
  before: CpuSample,
  after: CpuSample,
  databases: readonly string[],
): { total: number; ours: number; otherDatabases: number; server: number } {
  const result = { total: 0, ours: 0, otherDatabases: 0, server: 0 };
  for (const [pid, now] of after.processes) {
    if (now.comm !== 'postgres') continue;
    const then = before.processes.get(pid);
    const seconds = (then && then.comm === now.comm ? now.ticks - then.ticks : now.ticks) / TICKS_PER_SECOND;
    if (seconds <= 0) continue;
    let title = '';
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      // exited since the sample: the server's share
    }
    const words = title.split(/\s+/);
    result.total += seconds;
    if (databases.some((db) => words.includes(db))) result.ours += seconds;
    else if (/ \[local\]|\(\d+\)/.test(title)) result.otherDatabases += seconds;
    else result.server += seconds;
  }
  return result;
}
