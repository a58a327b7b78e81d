import { parseArgs } from 'node:util';

export const BENCH_HELP = `npm run bench:line-provider -- [options]

  --seconds N               measured phase of each server (default 10)
  --warmup N                warm-up before each measured phase, not counted (default 2)
  --concurrency N           echo and ApplyScore calls in flight (default 64)
  --events N                events the scores go to (default 20)
  --batch N                 items per ApplyScores call, at most 1000 (default 100)
  --batch-concurrency N     ApplyScores calls in flight (default 8)
  --rounds N                measure echo, ApplyScore and ApplyScores N times, alternating, and report
                            each round and the medians (default 1)
experiments (change line-provider's surroundings, never its code):
  --pool N                  LINE_PROVIDER_DATABASE_POOL_SIZE (default: line-provider's, 10)
  --no-notify-trigger       disable the outbox NOTIFY trigger on the bench database (the relay polls)
  --synchronous-commit off  asynchronous commit on the bench database
  --payload-volatile        declare event_changed_payload() VOLATILE (its body calls clock_timestamp()),
                            which lets PostgreSQL inline it instead of running it as a SQL function

Env: BENCH_DATABASE_URL, an admin URL of the PostgreSQL server to use
(default postgres://postgres@127.0.0.1:5432/postgres).
`;

export interface BenchOptions {
  seconds: number;
  warmup: number;
  concurrency: number;
  events: number;
  batch: number;
  batchConcurrency: number;
  rounds: number;
  pool: number | undefined;
  noNotifyTrigger: boolean;
  payloadVolatile: boolean;
  synchronousCommit: 'on' | 'off' | 'local' | 'remote_write' | 'remote_apply' | undefined;
  help: boolean;
}

const COMMIT_MODES = ['on', 'off', 'local', 'remote_write', 'remote_apply'] as const;

/** Parses the bench's command line; throws an Error whose message says what is wrong. */
export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '64' },
      events: { type: 'string', default: '20' },
      batch: { type: 'string', default: '100' },
      'batch-concurrency': { type: 'string', default: '8' },
      rounds: { type: 'string', default: '1' },
      pool: { type: 'string' },
      'no-notify-trigger': { type: 'boolean', default: false },
      'payload-volatile': { type: 'boolean', default: false },
      'synchronous-commit': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const number = (name: string, text: string, min: number) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number >= ${min}`);
    return value;
  };
  const commit = values['synchronous-commit'];
  if (commit !== undefined && !(COMMIT_MODES as readonly string[]).includes(commit)) {
    throw new Error(`--synchronous-commit must be one of ${COMMIT_MODES.join(', ')}`);
  }
  if (Number(values.batch) > 1000)
    throw new Error('--batch must be at most 1000 (line-provider refuses more)');
  return {
    seconds: number('seconds', values.seconds, 0.1),
    warmup: number('warmup', values.warmup, 0),
    concurrency: Math.round(number('concurrency', values.concurrency, 1)),
    events: Math.round(number('events', values.events, 1)),
    batch: Math.round(number('batch', values.batch, 1)),
    batchConcurrency: Math.round(number('batch-concurrency', values['batch-concurrency'], 1)),
    rounds: Math.round(number('rounds', values.rounds, 1)),
    pool: values.pool === undefined ? undefined : Math.round(number('pool', values.pool, 1)),
    noNotifyTrigger: values['no-notify-trigger'],
    payloadVolatile: values['payload-volatile'],
    synchronousCommit: commit as BenchOptions['synchronousCommit'],
    help: values.help,
  };
}
