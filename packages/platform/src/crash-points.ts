import { writeSync } from 'node:fs';

/**
 * Named crash points: the boundaries where a process dying abruptly could lose or repeat work. Each is
 * a `crashPoint(name)` call in the code; when `SCORELINE_CRASH_AT` names it, the process prints one line
 * to stderr and kills itself with SIGKILL there: no shutdown hooks, no flushing, no transaction
 * finished, exactly as a power cut or the OOM killer would leave it. Process tests and the chaos script
 * use them to prove that a restart loses nothing and applies nothing twice.
 *
 * The variable is read once, when this module loads. Unset (production), `crashPoint` is one
 * comparison and a return. This is the one switch read outside a process's configuration schema, on
 * purpose: it is for tests, never a setting, and code anywhere (the platform's outbox relay included)
 * must reach it without being handed it.
 */
export const CRASH_POINTS = {
  'api.after-commit':
    'score-maker API: T1 committed (the score, its outbox row, the Idempotency-Key answer), before the 202 is sent',
  'relay.after-publish':
    "an outbox relay (score-maker worker's or line-provider's): a batch published to the queues, before it is marked published",
  'worker.after-answer':
    'score-maker worker: line-provider answered ApplyScores (or RevertScores), before the batch is settled',
  'worker.before-ack':
    'score-maker worker: a batch of ApplyScore (or RevertScore) steps settled, before the queue acknowledges them',
  'line-provider.after-commit':
    'line-provider: an ApplyScore(s) or RevertScore(s) call committed, before the answer is sent',
  'worker.after-inbox':
    "score-maker worker: a closing EventChanged's inbox row and final scores committed, before the events cache is invalidated",
} as const;

export type CrashPointName = keyof typeof CRASH_POINTS;

export const CRASH_POINT_NAMES = Object.keys(CRASH_POINTS) as CrashPointName[];

/** The environment variable that arms crash points: `point[@N|@P%][,point…]`. */
export const CRASH_AT_VARIABLE = 'SCORELINE_CRASH_AT';

/** When an armed point fires: on its `nth` hit, or on each hit with `probability`. */
export type CrashTrigger = { nth: number } | { probability: number };

/**
 * Parses `SCORELINE_CRASH_AT`: comma-separated points, each `name` (its first hit), `name@N` (its Nth
 * hit) or `name@P%` (each hit with probability P %, for soak runs). Unknown names and malformed
 * triggers throw, so that a typo never silently tests nothing.
 */
export function parseCrashAt(spec: string): Map<CrashPointName, CrashTrigger> {
  const points = new Map<CrashPointName, CrashTrigger>();
  for (const item of spec.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const [name = '', trigger, ...rest] = item.split('@');
    if (!Object.hasOwn(CRASH_POINTS, name)) {
      throw new Error(
        `${CRASH_AT_VARIABLE}: unknown crash point "${name}"; known: ${CRASH_POINT_NAMES.join(', ')}`,
      );
    }
    if (rest.length > 0) throw new Error(`${CRASH_AT_VARIABLE}: "${item}" has more than one @`);
    points.set(name as CrashPointName, parseTrigger(item, trigger));
  }
  return points;
}

function parseTrigger(item: string, trigger: string | undefined): CrashTrigger {
  if (trigger === undefined) return { nth: 1 };
  if (/^[1-9]\d{0,8}$/.test(trigger)) return { nth: Number(trigger) };
  const percent = /^(\d{1,3}(?:\.\d+)?)%$/.exec(trigger);
  const probability = percent ? Number(percent[1]) / 100 : NaN;
  if (probability > 0 && probability <= 1) return { probability };
  throw new Error(
    `${CRASH_AT_VARIABLE}: "${item}": after @ comes the hit to crash on (1, 2, …) or a percentage (0.5%, 10%)`,
  );
}

/** The line a process prints to stderr as it dies at a crash point (tests look for it). */
export const crashMarker = (name: CrashPointName, hit: number) =>
  `crash point ${name} reached (hit ${hit}): SIGKILL\n`;

/**
 * Crash points armed from a spec; `die` and `random` are replaceable for unit tests. Returns undefined
 * when nothing is armed, so the caller's check is a single comparison.
 */
export function armCrashPoints(
  spec: string | undefined,
  options: { die?: (name: CrashPointName, hit: number) => void; random?: () => number } = {},
): ((name: CrashPointName) => void) | undefined {
  const points = parseCrashAt(spec ?? '');
  if (points.size === 0) return undefined;
  const die = options.die ?? kill;
  const random = options.random ?? Math.random;
  const hits = new Map<CrashPointName, number>();
  return (name) => {
    const trigger = points.get(name);
    if (!trigger) return;
    const hit = (hits.get(name) ?? 0) + 1;
    hits.set(name, hit);
    if ('nth' in trigger ? hit === trigger.nth : random() < trigger.probability) die(name, hit);
  };
}

function kill(name: CrashPointName, hit: number): void {
  // Synchronous: the line is out before the signal, whatever the logger still holds in its buffers.
  writeSync(2, crashMarker(name, hit));
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL to oneself is delivered before kill(2) returns; should it not be, never run on.
  process.abort();
}

// eslint-disable-next-line no-restricted-properties -- a test switch, not configuration (see above)
const armed = armCrashPoints(process.env[CRASH_AT_VARIABLE]);

/**
 * Kills the process here if `SCORELINE_CRASH_AT` arms this point (see CRASH_POINTS); otherwise does
 * nothing, at the cost of one comparison.
 */
export function crashPoint(name: CrashPointName): void {
  if (armed !== undefined) armed(name);
}
