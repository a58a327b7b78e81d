import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where the CPU goes during a phase of bench/api.ts, read from /proc (Linux): this process (autocannon),
 * each named child, PostgreSQL (its shared processes and the backends of the given databases), every
 * `redis-server` process, the biggest other processes
 * (a shared machine's noise) and the machine as a whole. Elsewhere every figure reads as n/a.
 * Processes that exit during the phase take their CPU time with them (an undercount, never negative).
 */

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux this runs on

interface ProcessTicks {
  comm: string;
  /** Clock ticks after boot when it started: with the pid, the process's identity (comm can change). */
  start: number;
  ticks: number;
}

function stat(pid: number | string): ProcessTicks | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const rest = text.slice(close + 2).split(' ');
    // After "(comm) ": state is field 0, utime 11, stime 12, starttime 19 (man 5 proc).
    return {
      comm: text.slice(text.indexOf('(') + 1, close),
      start: Number(rest[19]),
      ticks: Number(rest[11]) + Number(rest[12]),
    };
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

function machine(): Machine | undefined {
  try {
    const values = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const interrupts = (values[5] ?? 0) + (values[6] ?? 0);
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    return {
      busy: (total - idle) / TICKS_PER_SECOND,
      interrupts: interrupts / TICKS_PER_SECOND,
      total: total / TICKS_PER_SECOND,
    };
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

interface Machine {
  busy: number;
  interrupts: number;
  total: number;
}

export interface CpuSample {
  at: number;
  processes: Map<number, ProcessTicks>;
  machine: Machine | undefined;
}

export function sampleCpu(): CpuSample {
  return { at: performance.now(), processes: allProcesses(), machine: machine() };
}

/**
 * "autocannon (this process) 95%, score-maker API 100%, postgres 0%, redis 30%, kernel threads 5%, other
 * processes 5% (…); machine busy 98% of 2 cores": percentages of one core, except the last; `other` is
 * the other processes' share of a core.
 */
export function describeCpu(
  before: CpuSample,
  after: CpuSample,
  named: Record<string, number | undefined>,
  cores: number,
  /** The databases whose backends count as "postgres"; other backends count as "other". */
  databases?: readonly string[],
): { text: string; other: number } {
  const wall = (after.at - before.at) / 1000;
  const pct = (seconds: number) => `${Math.round((seconds / wall) * 100)}%`;
  const used = new Map<number, number>();
  for (const [pid, now] of after.processes) {
    const then = before.processes.get(pid);
    const ticks = then && then.start === now.start ? now.ticks - then.ticks : now.ticks;
    if (ticks > 0) used.set(pid, ticks / TICKS_PER_SECOND);
  }
  const take = (pid: number | undefined) => {
    if (pid === undefined) return 0;
    const seconds = used.get(pid) ?? 0;
    used.delete(pid);
    return seconds;
  };
  const byCommand = (comm: string, include: (pid: number) => boolean = () => true) => {
    let seconds = 0;
    for (const [pid, s] of used) {
      if (after.processes.get(pid)?.comm === comm && include(pid)) {
        seconds += s;
        used.delete(pid);
      }
    }
    return seconds;
  };
  // A backend's title names its database ("postgres: 15/main: user db host(port) state"); backends of
  // other databases (another benchmark on a shared machine) count as other.
  const ours = (pid: number) => {
    const database = /^postgres: [^:]+: \S+ (\S+) \S*\(\d+\)/.exec(commandLine(pid, 200))?.[1];
    return !databases || database === undefined || databases.includes(database);
  };
  const parts = [`autocannon (this process) ${pct(take(process.pid))}`];
  for (const [name, pid] of Object.entries(named)) parts.push(`${name} ${pct(take(pid))}`);
  parts.push(`postgres ${pct(byCommand('postgres', ours))}`, `redis ${pct(byCommand('redis-server'))}`);
  // Kernel threads (no command line: writeback, network work queues) mostly work for the load itself.
  const kernel = [...used].filter(([pid]) => commandLine(pid) === '');
  const kernelTotal = kernel.reduce((sum, [, s]) => sum + s, 0);
  const others = [...used].filter(([pid]) => commandLine(pid) !== '').sort((a, b) => b[1] - a[1]);
  const otherTotal = others.reduce((sum, [, s]) => sum + s, 0);
  const top = others
    .filter(([, s]) => s / wall >= 0.05)
    .slice(0, 3)
    .map(([pid, s]) => `${commandLine(pid)} ${pct(s)}`);
  parts.push(`kernel threads ${pct(kernelTotal)}`);
  parts.push(`other processes ${pct(otherTotal)}${top.length ? ` (${top.join('; ')})` : ''}`);
  if (!before.machine || !after.machine) return { text: parts.join(', '), other: otherTotal / wall };
  const busy = after.machine.busy - before.machine.busy;
  const total = after.machine.total - before.machine.total;
  // Busy time no live process accounts for: processes that ended during the phase (someone's build).
  const accounted = [...after.processes].reduce((sum, [pid, now]) => {
    const then = before.processes.get(pid);
    return sum + Math.max(0, then && then.start === now.start ? now.ticks - then.ticks : now.ticks);
  }, 0);
  const interrupts = after.machine.interrupts - before.machine.interrupts;
  const gone = Math.max(0, busy - interrupts - accounted / TICKS_PER_SECOND);
  if (interrupts / wall >= 0.05) parts.push(`interrupts ${pct(interrupts)}`);
  if (gone / wall >= 0.1) parts.push(`ended processes ~${pct(gone)}`);
  return {
    text: `${parts.join(', ')}; machine busy ${Math.round((busy / total) * 100)}% of ${cores} cores`,
    other: (otherTotal + gone) / wall,
  };
}
