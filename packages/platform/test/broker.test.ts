import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { topicKeys } from '../src/broker/redis-scripts.js';
import {
  createMemoryBroker,
  createRedisBroker,
  silentLogger,
  type BrokerMessage,
  type Delivery,
} from '../src/index.js';
import {
  createTestRedis,
  redisServerAvailable,
  redisSkipReason,
  startPrivateRedis,
  testServices,
  waitFor,
  type PrivateRedis,
} from '../src/testing/index.js';
import { brokerContract } from './broker-contract.js';

brokerContract('in-process', {
  async open() {
    const broker = createMemoryBroker();
    return { a: broker, b: broker, dispose: () => broker.close() };
  },
});

const message = (n: number): BrokerMessage<{ n: number }> => ({
  id: randomUUID(),
  type: 'Test',
  key: 'k',
  payload: { n },
  createdAt: new Date().toISOString(),
});

/** A TCP proxy to Redis that can be cut: the connections of whoever uses it drop and cannot come back. */
async function startProxy(targetUrl: string) {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port) || 6379, target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  await listen(0);
  const { port } = server.address() as net.AddressInfo;
  return { url: `redis://127.0.0.1:${port}`, cut: close, restore: () => listen(port), dispose: close };
}

/** A logger that keeps the warnings and errors it is given, to count them. */
function recordingLogger() {
  const lines: string[] = [];
  return { lines, logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) };
}

describe.skipIf(!testServices().redisUrl)(`Redis (streams)${redisSkipReason()}`, () => {
  brokerContract('Redis', {
    async open() {
      const redis = createTestRedis();
      const options = { url: redis.url, prefix: redis.prefix, logger: silentLogger() };
      const a = createRedisBroker(options);
      const b = createRedisBroker(options);
      return {
        a,
        b,
        async dispose() {
          await Promise.all([a.close(), b.close()]);
          await redis.dispose();
        },
      };
    },
  });

  describe('consumers that stop or stall', () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });
    const topic = () => `t-${randomUUID().slice(0, 8)}`;
    const open = (url: string, prefix: string) => {
      const broker = createRedisBroker({
        url,
        prefix,
        logger: silentLogger(),
        lockDurationMs: 600,
        stalledIntervalMs: 200,
      });
      cleanup.push(() => broker.close());
      return broker;
    };

    it('when a consumer dies mid-batch, then another takes its deliveries over after the lock duration, as the same attempt', async () => {
      const redis = createTestRedis();
      cleanup.push(() => redis.dispose());
      const proxy = await startProxy(redis.url);
      cleanup.push(() => proxy.dispose());
      const t = topic();
      let release!: () => void;
      const hung = new Promise<void>((resolve) => (release = resolve));
      // Cleanup runs in reverse: the proxy comes back and the handler ends, so the dead broker can close.
      const dying = open(proxy.url, redis.prefix);
      cleanup.push(async () => {
        release();
        await proxy.restore();
      });
      const survivor = open(redis.url, redis.prefix);
      const taken: Delivery[] = [];
      dying.consumeBatch(
        t,
        async (ds) => {
          taken.push(...ds);
          await hung;
        },
        { maxBatch: 10 },
      );
      const sent = [message(0), message(1), message(2)];
      await survivor.publish(t, sent);
      await waitFor(() => taken.length === 3, { what: 'the batch in flight' });
      await proxy.cut();
      const seen: Delivery[] = [];
      survivor.consumeBatch(t, async (ds) => void seen.push(...ds), { maxBatch: 10 });
      await waitFor(() => seen.length === 3, { what: 'the takeover' });
      await new Promise((r) => setTimeout(r, 800));
      expect(seen.map((d) => d.id)).toEqual(sent.map((m) => m.id));
      expect(seen.every((d) => d.attempt === 1)).toBe(true);
      expect(await survivor.depth(t)).toBe(0);
    });

    it('when a batch runs longer than the lock duration, then no other consumer takes it over', async () => {
      const redis = createTestRedis();
      cleanup.push(() => redis.dispose());
      const t = topic();
      const slow = open(redis.url, redis.prefix);
      const other = open(redis.url, redis.prefix);
      const seen: string[] = [];
      let finished = 0;
      slow.consumeBatch(
        t,
        async (ds) => {
          seen.push(...ds.map((d) => d.id));
          await new Promise((r) => setTimeout(r, 2000)); // over three lock durations
          finished += ds.length;
        },
        { maxBatch: 10 },
      );
      await slow.publish(t, [message(0), message(1)]);
      await waitFor(() => seen.length === 2, { what: 'the slow batch' });
      other.consumeBatch(t, async (ds) => void seen.push(...ds.map((d) => d.id)), { maxBatch: 10 });
      await waitFor(() => finished === 2, { what: 'the slow batch to finish' });
      await new Promise((r) => setTimeout(r, 800));
      expect(seen).toHaveLength(2);
      expect(await other.depth(t)).toBe(0);
    });
  });

  describe('entries it cannot read, a hook that throws, many finishes at once', () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });
    const logged = (lines: string[], msg: string) =>
      lines.filter((line) => (JSON.parse(line) as { msg: string }).msg === msg).length;
    /** A broker on a prefix of its own, a plain connection to look at its keys, and a fresh topic. */
    const open = (logger: Logger) => {
      const redis = createTestRedis();
      const raw = new Redis(redis.url);
      const broker = createRedisBroker({ url: redis.url, prefix: redis.prefix, logger });
      cleanup.push(() => redis.dispose());
      cleanup.push(() => raw.quit().then(() => undefined));
      cleanup.push(() => broker.close());
      const topic = `t-${randomUUID().slice(0, 8)}`;
      const keys = topicKeys(redis.prefix, topic);
      /** Nothing left in the stream (pending or not) nor in the dedup hash: every entry was finished. */
      const drained = async () =>
        (await raw.xlen(keys.stream)) === 0 && (await raw.hlen(keys.ids)) === 0 ? true : undefined;
      return { broker, raw, topic, keys, drained };
    };

    it('when stream entries cannot be read, then each is logged and dropped, and the messages beside them are delivered', async () => {
      const { lines, logger } = recordingLogger();
      const { broker, raw, topic, keys, drained } = open(logger);
      await broker.publish(topic, [message(0)]);
      await raw.xadd(keys.stream, '*', 'a', '1', 'm', '{not json');
      await raw.xadd(keys.stream, '*', 'm', JSON.stringify(message(8))); // no attempt number
      // 'm' only as a value: the message after it is a field's name, not the value of an 'm' field.
      await raw.xadd(keys.stream, '*', 'k', 'm', JSON.stringify(message(9)), 'v', 'a', '1');
      await broker.publish(topic, [message(1)]);
      const seen: number[] = [];
      broker.consumeBatch<{ n: number }>(topic, async (ds) => void seen.push(...ds.map((d) => d.payload.n)), {
        maxBatch: 10,
      });
      await waitFor(drained, { what: 'every entry finished' });
      expect(seen).toEqual([0, 1]);
      expect(logged(lines, 'unreadable stream entry dropped')).toBe(3);
    });

    it('when onExhausted throws, then that is logged and the message is still dropped, once', async () => {
      const { lines, logger } = recordingLogger();
      const { broker, topic, drained } = open(logger);
      let exhausted = 0;
      broker.consume(
        topic,
        async () => {
          throw new Error('handler fails');
        },
        {
          maxAttempts: 1,
          onExhausted: () => {
            exhausted++;
            throw new Error('hook fails');
          },
        },
      );
      await broker.publish(topic, [message(0)]);
      await waitFor(drained, { what: 'the message dropped' });
      await new Promise((r) => setTimeout(r, 300));
      expect(exhausted).toBe(1);
      expect(logged(lines, 'onExhausted failed')).toBe(1);
    });

    it('when many batches finish at once, then every entry is acknowledged and none is delivered twice', async () => {
      const { broker, topic, drained } = open(silentLogger());
      const sent = Array.from({ length: 2_500 }, (_, n) => message(n));
      await broker.publish(topic, sent);
      const seen: string[] = [];
      // Every batch waits until all were handed out, so that their finishes queue up behind one another
      // and are coalesced into script calls of a bounded size.
      let release!: () => void;
      const allTaken = new Promise<void>((resolve) => (release = resolve));
      broker.consumeBatch(
        topic,
        async (ds) => {
          seen.push(...ds.map((d) => d.id));
          if (seen.length === sent.length) release();
          await allTaken;
        },
        { maxBatch: 250, concurrency: 10 },
      );
      await waitFor(drained, { what: 'every entry finished' });
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toHaveLength(sent.length);
      expect(new Set(seen)).toEqual(new Set(sent.map((m) => m.id)));
    });
  });

  describe.skipIf(!redisServerAvailable())('on a Redis of its own', () => {
    let server: PrivateRedis;
    beforeAll(async () => {
      server = await startPrivateRedis();
    });
    afterAll(async () => {
      await server?.dispose();
    });

    const run = async (disaster: () => Promise<void>) => {
      const { lines, logger } = recordingLogger();
      const broker = createRedisBroker({
        url: server.url,
        prefix: `p-${randomUUID().slice(0, 8)}`,
        logger,
        lockDurationMs: 1000,
        stalledIntervalMs: 300,
      });
      try {
        const seen: number[] = [];
        const single: number[] = [];
        broker.consumeBatch<{ n: number }>(
          'batches',
          async (ds) => void seen.push(...ds.map((d) => d.payload.n)),
          {
            maxBatch: 10,
            concurrency: 2,
          },
        );
        broker.consume<{ n: number }>('singles', async (d) => void single.push(d.payload.n), {
          concurrency: 4,
        });
        await broker.publish('batches', [message(1), message(2)]);
        await broker.publish('singles', [message(1)]);
        await waitFor(() => seen.length === 2 && single.length === 1, { what: 'deliveries before' });
        await disaster();
        await new Promise((r) => setTimeout(r, 1000));
        await broker.publish('batches', [message(3), message(4)]);
        await broker.publish('singles', [message(2)]);
        await waitFor(() => seen.length === 4 && single.length === 2, {
          what: 'deliveries after',
          timeoutMs: 20_000,
        });
        expect(seen).toEqual([1, 2, 3, 4]);
        expect(single).toEqual([1, 2]);
        return lines;
      } finally {
        await broker.close();
      }
    };

    it('when Redis is flushed mid-run, then the consumers carry on and new messages are delivered', async () => {
      const warnings = await run(() => server.flushAll());
      // Logged, recovered at once: no loop of errors.
      expect(warnings.length).toBeLessThan(10);
    });

    it('when Redis restarts empty, then the consumers reconnect and new messages are delivered', async () => {
      const warnings = await run(async () => {
        await server.stop();
        await new Promise((r) => setTimeout(r, 500));
        await server.start();
      });
      expect(warnings.length).toBeLessThan(40);
    });
  });
});
