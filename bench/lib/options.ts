import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Command-line options from a table: name -> [default, help]. The default's type is the option's (a
 * number must be >= 0; a boolean is a flag; a string array repeats; undefined: a string with no
 * default). `--help` prints the usage and the table; a wrong option prints why and exits 2.
 */
type Default = number | string | boolean | undefined | readonly string[];
type Spec = Record<string, readonly [Default, string]>;
type Value<D> = D extends number
  ? number
  : D extends boolean
    ? boolean
    : D extends readonly string[]
      ? string[]
      : D extends string
        ? string
        : string | undefined;

/** The experiments every bench has: they change the children's surroundings, never their code. */
export const SHARED = {
  set: [[] as string[], 'KEY=VALUE, repeatable: a setting for every child (pool sizes, …)'],
  'node-args': [undefined, 'node options of the process under test ("--cpu-prof --cpu-prof-dir D")'],
  'no-notify-trigger': [false, "disable the outbox NOTIFY trigger on the bench's databases (relays poll)"],
} as const;

export function parseOptions<S extends Spec>(usage: string, spec: S) {
  const help = [
    usage,
    '',
    ...Object.entries(spec).map(([name, [value, text]]) => {
      const shown = typeof value === 'number' || typeof value === 'string';
      return `  --${name.padEnd(18)} ${text}${shown ? ` (default ${value})` : ''}`;
    }),
    '',
    'Env: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL',
    '(default redis://127.0.0.1:6379), PG_BASELINE_SCRIPT (default ../shared/bench/pg-baseline.sh).',
  ].join('\n');
  try {
    const options: ParseArgsConfig['options'] = {
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(
        Object.entries(spec).map(([name, [value]]) => [
          name,
          { type: typeof value === 'boolean' ? 'boolean' : 'string', multiple: Array.isArray(value) },
        ]),
      ),
    };
    const { values } = parseArgs({ options }) as { values: Record<string, unknown> };
    if (values.help) {
      console.log(help);
      process.exit(0);
    }
    const result: Record<string, unknown> = {};
    for (const [name, [value]] of Object.entries(spec)) {
      const given = values[name];
      if (given === undefined) result[name] = value;
      else if (typeof value === 'number') {
        const n = Number(given);
        if (!Number.isFinite(n) || n < 0)
          throw new Error(`--${name} takes a number >= 0, not ${given as string}`);
        result[name] = n;
      } else result[name] = given;
    }
    const overrides: Record<string, string> = {};
    for (const pair of (result.set as string[] | undefined) ?? []) {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--set takes KEY=VALUE, not ${pair}`);
      overrides[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return { ...(result as { [K in keyof S]: Value<S[K][0]> }), overrides };
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${help}`);
    process.exit(2);
  }
}
