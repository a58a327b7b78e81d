import type { PrivatePostgres, PrivateRedis } from '@scoreline/platform/testing';
import type { ManagedProcess, ProcessKind } from './processes.js';
import type { Random } from './random.js';

export type FaultKind =
  | 'kill line-provider'
  | 'kill api'
  | 'kill worker'
  | 'crash point'
  | 'flush redis'
  | 'restart redis'
  | 'restart score-maker postgres'
  | 'restart line-provider postgres'
  | 'pause line-provider';

/**
 * Named crash points (SCORELINE_CRASH_AT, packages/platform/src/crash-points.ts) the plan arms, with the
 * process kind each fires in and the highest hit to crash on. `worker.after-inbox` is left out: it
 * fires only on an event's close, too rarely to be hit within a run's few closes.
 */
const CRASH_POINTS: { point: string; kind: ProcessKind; maxHit: number }[] = [
  { point: 'api.after-commit', kind: 'api', maxHit: 50 },
  { point: 'relay.after-publish', kind: 'worker', maxHit: 10 },
  { point: 'relay.after-publish', kind: 'line-provider', maxHit: 10 },
  { point: 'worker.after-answer', kind: 'worker', maxHit: 10 },
  { point: 'worker.before-ack', kind: 'worker', maxHit: 10 },
  { point: 'line-provider.after-commit', kind: 'line-provider', maxHit: 10 },
];

export interface PlannedFault {
  /** ms after the load began */
  at: number;
  kind: FaultKind;
  /** Which replica a kill or crash point hits (the other one if that one is down or busy). */
  replica: number;
  /** How long a killed process or Redis stays down before it is started again. */
  downMs: number;
  /** For a crash point: what to arm, in which kind of process. */
  crash?: { point: string; kind: ProcessKind; hit: number };
}

export interface FaultRecord extends PlannedFault {
  /** ms since the run began: when it began, and when what it broke was back */
  started: number;
  ended: number;
  detail: string;
  error?: string;
  /** The process a kill or crash point took down. */
  target?: string;
}

export interface FaultTargets {
  processes: Record<ProcessKind, ManagedProcess[]>;
  redis: PrivateRedis;
  scoreMakerPostgres: PrivatePostgres;
  lineProviderPostgres: PrivatePostgres;
  /** How long every line-provider stays paused (past the saga timeout). */
  pauseMs: number;
  began: number;
}

/**
 * The fault plan: `kills` kills of each process kind, `crashes` crash points, and one of every other
 * fault, in an order drawn from the seed, spread over 8 %–85 % of the load with some jitter.
 */
export function planFaults(random: Random, loadMs: number, kills: number, crashes: number): PlannedFault[] {
  const kinds: FaultKind[] = [];
  for (let i = 0; i < kills; i++) kinds.push('kill line-provider', 'kill api', 'kill worker');
  for (let i = 0; i < crashes; i++) kinds.push('crash point');
  kinds.push(
    'flush redis',
    'restart redis',
    'restart score-maker postgres',
    'restart line-provider postgres',
    'pause line-provider',
  );
  const order = random.shuffle(kinds);
  const points = random.shuffle(CRASH_POINTS);
  let crashIndex = 0;
  const from = loadMs * 0.08;
  const slot = (loadMs * 0.85 - from) / order.length;
  return order.map((kind, i) => {
    const fault: PlannedFault = {
      at: Math.round(from + slot * (i + 0.2 + random.next() * 0.6)),
      kind,
      replica: random.int(2),
      downMs: random.between(300, 2000),
    };
    if (kind === 'crash point') {
      const { point, kind: processKind, maxHit } = points[crashIndex++ % points.length]!;
      fault.crash = { point, kind: processKind, hit: random.between(1, maxHit) };
    }
    return fault;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts each fault when it is due, whether or not earlier ones are over (so faults overlap, as they
 * do), until the plan ends or `stopped()` says the load is over; resolves once every fault started has
 * ended, what it broke back up.
 */
export async function runFaults(
  plan: PlannedFault[],
  targets: FaultTargets,
  loadStart: number,
  stopped: () => boolean,
  say: (text: string) => void,
): Promise<{ records: FaultRecord[]; notRun: number }> {
  const records: FaultRecord[] = [];
  const running: Promise<void>[] = [];
  let notRun = 0;
  for (const fault of plan) {
    const due = loadStart + fault.at;
    while (Date.now() < due && !stopped()) await sleep(Math.min(250, due - Date.now()));
    if (stopped()) {
      notRun++;
      continue;
    }
    const record: FaultRecord = { ...fault, started: Date.now() - targets.began, ended: 0, detail: '' };
    records.push(record);
    running.push(
      inject(
        fault,
        targets,
        (text) => {
          record.detail = record.detail ? `${record.detail}; ${text}` : text;
          say(`${fault.kind}: ${text}`);
        },
        (name) => (record.target = name),
      )
        .catch((error: Error) => {
          record.error = error.message;
          say(`${fault.kind} FAILED: ${error.message}`);
        })
        .finally(() => (record.ended = Date.now() - targets.began)),
    );
  }
  await Promise.all(running);
  return { records, notRun };
}

/**
 * The replica a kill or crash point may take down: the planned one, else the other, as long as the
 * other replica of the kind is up and ready meanwhile (the last one standing is never taken down, so
 * that the load keeps an API to send to). Waits up to 60 s for that; undefined if it never comes.
 */
async function pick(processes: ManagedProcess[], replica: number): Promise<ManagedProcess | undefined> {
  const giveUp = Date.now() + 60_000;
  for (;;) {
    for (const i of [replica % 2, (replica + 1) % 2]) {
      const [proc, sibling] = [processes[i]!, processes[(i + 1) % 2]!];
      if (proc.available && sibling.available) return proc;
    }
    if (Date.now() > giveUp) return undefined;
    await sleep(500);
  }
}

async function inject(
  fault: PlannedFault,
  targets: FaultTargets,
  note: (text: string) => void,
  target: (name: string) => void,
): Promise<void> {
  const timed = async (action: () => Promise<void>) => {
    const t0 = Date.now();
    await action();
    return Date.now() - t0;
  };
  switch (fault.kind) {
    case 'kill line-provider':
    case 'kill api':
    case 'kill worker': {
      const kind = fault.kind.slice('kill '.length) as ProcessKind;
      const waitFrom = Date.now();
      const proc = await pick(targets.processes[kind], fault.replica);
      if (!proc) return note(`skipped: no ${kind} replica free with the other one up, for 60 s`);
      if (Date.now() - waitFrom > 500)
        note(`waited ${Date.now() - waitFrom} ms for the other ${kind} to be up`);
      target(proc.name);
      proc.busy = true;
      try {
        await proc.kill();
        note(`${proc.name} killed (SIGKILL), down ${fault.downMs} ms`);
        await sleep(fault.downMs);
        note(`ready ${await timed(() => proc.start())} ms after its restart`);
      } finally {
        proc.busy = false;
      }
      return;
    }
    case 'crash point': {
      const { point, kind, hit } = fault.crash!;
      const waitFrom = Date.now();
      const proc = await pick(targets.processes[kind], fault.replica);
      if (!proc) return note(`skipped: no ${kind} replica free with the other one up, for 60 s`);
      if (Date.now() - waitFrom > 500)
        note(`waited ${Date.now() - waitFrom} ms for the other ${kind} to be up`);
      target(proc.name);
      proc.busy = true;
      try {
        const crashAt = `${point}@${hit}`;
        await proc.kill();
        // A crash before it is ready counts as fired: the exit below is what matters.
        await proc.start({ crashAt }).catch(() => undefined);
        const fired = await Promise.race([proc.exited().then(() => true), sleep(30_000).then(() => false)]);
        if (fired) note(`${proc.name} restarted with SCORELINE_CRASH_AT=${crashAt}: died there`);
        else {
          note(`${proc.name} restarted with SCORELINE_CRASH_AT=${crashAt}: not reached in 30 s, killed`);
          await proc.kill();
        }
        note(`ready ${await timed(() => proc.start())} ms after its restart`);
      } finally {
        proc.busy = false;
      }
      return;
    }
    case 'flush redis':
      await targets.redis.flushAll();
      return note('FLUSHALL');
    case 'restart redis': {
      await targets.redis.stop();
      await sleep(fault.downMs);
      await targets.redis.start();
      return note(`redis-server killed, down ${fault.downMs} ms, started again empty`);
    }
    case 'restart score-maker postgres':
    case 'restart line-provider postgres': {
      const server =
        fault.kind === 'restart score-maker postgres'
          ? targets.scoreMakerPostgres
          : targets.lineProviderPostgres;
      const took = await timed(() => server.restart());
      return note(`pg_ctl restart -m fast, accepting connections again after ${took} ms`);
    }
    case 'pause line-provider': {
      const all = targets.processes['line-provider'];
      for (const proc of all) proc.pause();
      await sleep(targets.pauseMs);
      for (const proc of all) proc.resume();
      return note(`every line-provider stopped (SIGSTOP) for ${targets.pauseMs} ms, then SIGCONT`);
    }
  }
}
