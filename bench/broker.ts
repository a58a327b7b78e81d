/**
 * What moving a message through the broker costs on Redis: BullMQ with one job per message (what the
 * Redis adapter was), the streams adapter one message per handler call (`consume`), and the streams
 * adapter in batches (`consumeBatch`).
 *
 *   npm run bench:broker -- [--messages 20000] [--publish-batch 200] [--concurrency 32]
 *        [--max-batch 200] [--rounds 1] [--private-redis]
 *
 * Each case starts its consumer, publishes `--messages` small messages in publish calls of
 * `--publish-batch` (one call at a time, as the outbox relay does) while the consumer runs, and stops
 * the clock when the last one was handled (the handler only counts). Figures per case: messages a
 * second; Redis commands per message (INFO stats total_commands_processed, which counts the commands
 * run inside Lua scripts too) and the commands that make them up (INFO commandstats); Redis CPU
 * (INFO cpu, user + system) and this process's CPU per message; ratios against BullMQ.
 * Cases: (a) BullMQ jobs, Worker concurrency `--concurrency`, job options as the old adapter had them;
 * (b) streams `consume`, concurrency `--concurrency`; (c) streams `consumeBatch`, `--max-batch` per
 * call, concurrency 1. `--rounds N` runs the three N times, alternating, and reports medians.
 * Redis is BENCH_REDIS_URL (default redis://127.0.0.1:6379) under a key prefix of its own, deleted at
 * the end; on a shared Redis other clients' commands and CPU count too, so `--private-redis` starts a
 * redis-server of the bench's own (on a free port, no persistence) for clean counts.
 * Not a test: it prints figures.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createRedisBroker, silentLogger, type BrokerMessage } from '@scoreline/platform';
import { startPrivateRedis, type PrivateRedis } from '../packages/platform/src/testing/private-redis.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    messages: { type: 'string', default: '20000' },
    'publish-batch': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '32' },
    'max-batch': { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    'private-redis': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('npm run bench:broker -- [--messages N] [--publish-batch N] [--concurrency N] [--max-batch N]');
  console.log('                        [--rounds N] [--private-redis]   (see bench/broker.ts)');
  process.exit(0);
}
const positive = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${text}`);
  return n;
};
const N = positive('messages', values.messages);
const PUBLISH_BATCH = positive('publish-batch', values['publish-batch']);
const CONCURRENCY = positive('concurrency', values.concurrency);
const MAX_BATCH = positive('max-batch', values['max-batch']);
const ROUNDS = positive('rounds', values.rounds);

interface Stats {
  commands: number;
  byCommand: Map<string, number>;
  redisCpu: number;
}

interface Result {
  seconds: number;
  publishSeconds: number;
  commands: number;
  byCommand: Map<string, number>;
  redisCpuMs: number;
  selfCpuMs: number;
}

/** A case: start consuming (resolves when ready), publish one batch, stop. */
interface Case {
  name: string;
  start(prefix: string, url: string, onMessage: (count: number) => void): Promise<void>;
  publish(messages: BrokerMessage[]): Promise<void>;
  stop(): Promise<void>;
}

const infoField = (info: string, field: string) => Number(new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]);

async function redisStats(redis: Redis): Promise<Stats> {
  const [stats, cpu, commandstats] = await Promise.all([
    redis.info('stats'),
    redis.info('cpu'),
    redis.info('commandstats'),
  ]);
  const byCommand = new Map<string, number>();
  for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    byCommand.set(match[1]!, Number(match[2]));
  return {
    commands: infoField(stats, 'total_commands_processed'),
    byCommand,
    redisCpu: infoField(cpu, 'used_cpu_sys') + infoField(cpu, 'used_cpu_user'),
  };
}

const message = (i: number): BrokerMessage<{ n: number }> => ({
  id: randomUUID(),
  type: 'BenchMessage',
  key: `k${i % 64}`,
  payload: { n: i },
  createdAt: new Date().toISOString(),
});

function bullmqCase(): Case {
  // As the BullMQ adapter ran it: a job per message, the message id as the job id, attempts counted by
  // the consumer, completed jobs kept for a while so that a republished id was still recognised.
  let queue: Queue | undefined;
  let worker: Worker | undefined;
  let connection: Redis | undefined;
  return {
    name: `(a) BullMQ, a job per message, concurrency ${CONCURRENCY}`,
    async start(prefix, url, onMessage) {
      connection = new Redis(url, { maxRetriesPerRequest: null });
      queue = new Queue('bench', {
        connection,
        prefix,
        defaultJobOptions: {
          attempts: 2 ** 31 - 1,
          backoff: { type: 'scoreline' },
          removeOnComplete: { age: 600, count: 10_000 },
          removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
        },
      });
      let count = 0;
      worker = new Worker(
        'bench',
        async () => {
          onMessage(++count);
        },
        { connection, prefix, concurrency: CONCURRENCY, maxStalledCount: 2 ** 31 - 1 },
      );
      await worker.waitUntilReady();
    },
    async publish(messages) {
      await queue!.addBulk(messages.map((m) => ({ name: m.type, data: m, opts: { jobId: m.id } })));
    },
    async stop() {
      await worker?.close();
      await queue?.close();
      await connection?.quit();
    },
  };
}

function streamsCase(batch: boolean): Case {
  let broker: ReturnType<typeof createRedisBroker> | undefined;
  return {
    name: batch
      ? `(c) streams, consumeBatch, up to ${MAX_BATCH} a call`
      : `(b) streams, consume, one a call, concurrency ${CONCURRENCY}`,
    async start(prefix, url, onMessage) {
      broker = createRedisBroker({ url, prefix, logger: silentLogger() });
      let count = 0;
      if (batch) {
        broker.consumeBatch('bench', async (ds) => onMessage((count += ds.length)), { maxBatch: MAX_BATCH });
      } else {
        broker.consume('bench', async () => onMessage(++count), { concurrency: CONCURRENCY });
      }
      await broker.ping();
      await new Promise((r) => setTimeout(r, 200)); // the consumer's own connection and group
    },
    async publish(messages) {
      await broker!.publish('bench', messages);
    },
    async stop() {
      await broker?.close();
    },
  };
}

async function measure(make: () => Case, url: string, admin: Redis, prefix: string): Promise<Result> {
  const c = make();
  let done!: () => void;
  const allHandled = new Promise<void>((resolve) => (done = resolve));
  await c.start(prefix, url, (count) => {
    if (count >= N) done();
  });
  const messages = Array.from({ length: N }, (_, i) => message(i));
  const before = await redisStats(admin);
  const selfBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i += PUBLISH_BATCH) await c.publish(messages.slice(i, i + PUBLISH_BATCH));
  const published = process.hrtime.bigint();
  await allHandled;
  const finished = process.hrtime.bigint();
  const self = process.cpuUsage(selfBefore);
  const after = await redisStats(admin);
  await c.stop();
  const byCommand = new Map<string, number>();
  for (const [name, calls] of after.byCommand) {
    const delta = calls - (before.byCommand.get(name) ?? 0);
    if (delta > 0 && name !== 'info') byCommand.set(name, delta);
  }
  return {
    seconds: Number(finished - started) / 1e9,
    publishSeconds: Number(published - started) / 1e9,
    // The three INFO calls of the first snapshot ran before it was taken; those of this one after.
    commands: after.commands - before.commands - 3,
    byCommand,
    redisCpuMs: (after.redisCpu - before.redisCpu) * 1000,
    selfCpuMs: (self.user + self.system) / 1000,
  };
}

async function deleteKeys(admin: Redis, prefix: string) {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main() {
  let server: PrivateRedis | undefined;
  let url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (values['private-redis']) {
    server = await startPrivateRedis();
    url = server.url;
  }
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  const prefix = `scoreline-bench-broker-${randomBytes(4).toString('hex')}`;
  const server_ = await admin.info('server');
  const cases = [bullmqCase, () => streamsCase(false), () => streamsCase(true)];
  const results: Result[][] = cases.map(() => []);
  const names = cases.map((make) => make().name);
  try {
    console.log(
      `broker bench: ${N} messages in publish calls of ${PUBLISH_BATCH}, ${ROUNDS} round(s); ` +
        `Redis ${/redis_version:(\S+)/.exec(server_)?.[1]} at ${url}${server ? ' (private)' : ' (shared: other clients count too)'}`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, make] of cases.entries()) {
        const result = await measure(make, url, admin, `${prefix}-${round}-${i}`);
        results[i]!.push(result);
        await deleteKeys(admin, `${prefix}-${round}-${i}`);
        console.log(
          `  round ${round + 1} ${names[i]}: ${Math.round(N / result.seconds)} msg/s, ` +
            `${(result.commands / N).toFixed(2)} commands/msg`,
        );
      }
    }
    const summary = results.map((rs) => ({
      rate: median(rs.map((r) => N / r.seconds)),
      publishRate: median(rs.map((r) => N / r.publishSeconds)),
      commands: median(rs.map((r) => r.commands / N)),
      redisCpu: median(rs.map((r) => r.redisCpuMs / N)),
      selfCpu: median(rs.map((r) => r.selfCpuMs / N)),
    }));
    const base = summary[0]!;
    const ratio = (x: number, b: number) => `${(x / b).toFixed(2)}×`;
    console.log('');
    for (const [i, s] of summary.entries()) {
      console.log(names[i]);
      console.log(
        `  ${Math.round(s.rate)} msg/s (${ratio(s.rate, base.rate)})   publish alone ${Math.round(s.publishRate)} msg/s\n` +
          `  Redis commands ${s.commands.toFixed(2)}/msg (${ratio(s.commands, base.commands)})   ` +
          `Redis CPU ${(s.redisCpu * 1000).toFixed(1)} µs/msg (${ratio(s.redisCpu, base.redisCpu)})   ` +
          `this process CPU ${(s.selfCpu * 1000).toFixed(1)} µs/msg (${ratio(s.selfCpu, base.selfCpu)})`,
      );
      const last = results[i]!.at(-1)!;
      const top = [...last.byCommand]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 8)
        .map(([name, calls]) => `${name} ${(calls / N).toFixed(2)}`);
      console.log(`  per message: ${top.join(', ')}`);
    }
    console.log(
      '\nRatios are against (a). Commands include those run inside Lua scripts. Publishing and consuming' +
        ' overlap; "publish alone" is N over the time until the last publish call returned.',
    );
  } finally {
    await deleteKeys(admin, prefix);
    await admin.quit();
    await server?.dispose();
  }
}

await main();
