import { readFileSync } from 'node:fs';

/**
 * CPU time per process, from /proc (Linux), to say where the time goes during a phase: the bench
 * client, the server under test, the PostgreSQL backends serving the bench database (found by the
 * caller in pg_stat_activity, so other databases' work on a shared server is not counted), and
 * everything else. Elsewhere the figures read n/a.
 */

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux this runs on

/** CPU seconds used so far by one process (utime + stime), or undefined when it is gone. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "(comm) " come state=0 … utime=11, stime=12 (man 5 proc, counting from 0 there).
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine, all cores (first line of /proc/stat). */
function machineCpuSeconds(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

export interface CpuSample {
  at: number;
  self: number;
  server: number | undefined;
  /** CPU seconds so far of each PostgreSQL backend pid given. */
  postgres: Map<number, number>;
  machine: { busy: number; total: number } | undefined;
}

export function sampleCpu(serverPid: number | undefined, postgresPids: readonly number[]): CpuSample {
  const usage = process.cpuUsage();
  const postgres = new Map<number, number>();
  for (const pid of postgresPids) {
    const seconds = processCpuSeconds(pid);
    if (seconds !== undefined) postgres.set(pid, seconds);
  }
  return {
    at: performance.now(),
    self: (usage.user + usage.system) / 1e6,
    server: processCpuSeconds(serverPid),
    postgres,
    machine: machineCpuSeconds(),
  };
}

/**
 * "bench client 45%, line-provider 80%, postgres 60%, other processes 5%, machine busy 93% of all cores":
 * percentages of one core, except the last. "Other" is whatever else ran (a shared machine's noise).
 * With `calls`, also CPU milliseconds per call (or per `unit`: items of batched calls) of each, which
 * noise from other processes disturbs less.
 */
export function describeCpu(
  before: CpuSample,
  after: CpuSample,
  serverName: string,
  calls?: number,
  unit = 'call',
): { text: string; otherCores: number } {
  const seconds = (after.at - before.at) / 1000;
  const pct = (value: number | undefined) =>
    value === undefined ? 'n/a' : `${Math.round((value / seconds) * 100)}%`;
  const self = after.self - before.self;
  const server =
    before.server === undefined || after.server === undefined ? undefined : after.server - before.server;
  // A backend first seen at the end started during the phase: all of its time belongs to it.
  let postgres: number | undefined = after.postgres.size ? 0 : undefined;
  for (const [pid, used] of after.postgres) postgres! += used - (before.postgres.get(pid) ?? 0);
  let otherCores = 0;
  const parts = [
    `bench client ${pct(self)}`,
    `${serverName} ${pct(server)}`,
    `postgres backends ${pct(postgres)}`,
  ];
  if (before.machine && after.machine) {
    const busy = after.machine.busy - before.machine.busy;
    const total = after.machine.total - before.machine.total;
    const other = busy - self - (server ?? 0) - (postgres ?? 0);
    otherCores = Math.max(0, other) / seconds;
    parts.push(`other processes ${pct(Math.max(0, other))}`);
    parts.push(`machine busy ${Math.round((busy / total) * 100)}% of all cores`);
  }
  let text = parts.join(', ');
  if (calls) {
    const ms = (value: number | undefined) =>
      value === undefined ? 'n/a' : ((value * 1000) / calls).toFixed(2);
    text += `\n    CPU ms per ${unit}: client ${ms(self)}, ${serverName} ${ms(server)}, postgres backends ${ms(postgres)}`;
  }
  return { text, otherCores };
}
