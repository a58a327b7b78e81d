import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetryLater, type Broker, type BrokerMessage, type Delivery } from '../src/index.js';
import { waitFor } from '../src/testing/index.js';

export interface BrokerFactory {
  /** Two brokers over the same transport (two "replicas"); for memory, the same instance twice. */
  open(): Promise<{ a: Broker; b: Broker; dispose(): Promise<void> }>;
}

const message = (n: number, key = 'k'): BrokerMessage<{ n: number }> => ({
  id: randomUUID(),
  type: 'Test',
  key,
  payload: { n },
  createdAt: new Date().toISOString(),
});

const fastBackoff = { initialMs: 20, maxMs: 200, jitter: false };

/** The semantics every broker adapter promises (broker.ts), run against each adapter. */
export function brokerContract(name: string, factory: BrokerFactory): void {
  describe(`broker contract: ${name}`, () => {
    let a: Broker;
    let b: Broker;
    let dispose: () => Promise<void>;
    let topic: string;

    beforeEach(async () => {
      const opened = await factory.open();
      ({ a, b } = opened);
      dispose = () => opened.dispose();
      topic = `t-${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await dispose();
    });

    it('when messages are published, then each is delivered once, intact and in publish order', async () => {
      const seen: Delivery<{ n: number }>[] = [];
      a.consume<{ n: number }>(topic, async (d) => {
        seen.push(d);
      });
      const sent = Array.from({ length: 20 }, (_, i) => message(i));
      await a.publish(topic, sent.slice(0, 10));
      await a.publish(topic, sent.slice(10));
      await waitFor(() => seen.length === 20, { what: '20 deliveries' });
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.map((d) => d.payload.n)).toEqual(sent.map((m) => m.payload.n));
      expect(seen.map((d) => d.id)).toEqual(sent.map((m) => m.id));
      expect(seen.every((d) => d.attempt === 1 && d.topic === topic && d.type === 'Test')).toBe(true);
    });

    it('when a handler throws, then the message comes back with a growing attempt number after a backoff', async () => {
      const attempts: { attempt: number; at: number }[] = [];
      a.consume(
        topic,
        async (d) => {
          attempts.push({ attempt: d.attempt, at: Date.now() });
          if (d.attempt < 3) throw new Error('transient');
        },
        { maxAttempts: 5, backoff: { initialMs: 100, maxMs: 1000, jitter: false } },
      );
      await a.publish(topic, [message(1)]);
      await waitFor(() => attempts.length === 3, { what: 'three attempts' });
      expect(attempts.map((x) => x.attempt)).toEqual([1, 2, 3]);
      // 100 ms then 200 ms (exponential), allowing for timer slack on a busy machine.
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(90);
      expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(180);
      await new Promise((r) => setTimeout(r, 300));
      expect(attempts).toHaveLength(3);
    });

    it('when a handler asks to retry later, then the message returns after that delay', async () => {
      const at: number[] = [];
      a.consume(
        topic,
        async () => {
          at.push(Date.now());
          if (at.length === 1) throw new RetryLater(400);
        },
        { backoff: fastBackoff },
      );
      await a.publish(topic, [message(1)]);
      await waitFor(() => at.length === 2, { what: 'the retry' });
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(380);
    });

    it('when a message keeps failing, then after maxAttempts it goes to onExhausted once and stops', async () => {
      let calls = 0;
      const exhausted: { attempt: number; error: unknown }[] = [];
      a.consume(
        topic,
        async () => {
          calls++;
          throw new Error('permanent');
        },
        {
          maxAttempts: 3,
          backoff: fastBackoff,
          onExhausted: (d, error) => {
            exhausted.push({ attempt: d.attempt, error });
          },
        },
      );
      await a.publish(topic, [message(1)]);
      await waitFor(() => exhausted.length === 1, { what: 'exhaustion' });
      await new Promise((r) => setTimeout(r, 300));
      expect(calls).toBe(3);
      expect(exhausted).toHaveLength(1);
      expect(exhausted[0]!.attempt).toBe(3);
      expect((exhausted[0]!.error as Error).message).toBe('permanent');
    });

    it('when a message is published with a delay, then it is not delivered before the delay', async () => {
      const publishedAt = Date.now();
      let deliveredAt = 0;
      a.consume(topic, async () => {
        deliveredAt = Date.now();
      });
      await a.publish(topic, [message(1)], { delayMs: 500 });
      expect(await a.depth(topic)).toBe(1);
      await waitFor(() => deliveredAt > 0, { what: 'delayed delivery' });
      expect(deliveredAt - publishedAt).toBeGreaterThanOrEqual(480);
    });

    it('when two consumers share a topic, then the work is split and no message is handled twice', async () => {
      const byConsumer = { a: [] as string[], b: [] as string[] };
      const slow = (list: string[]) => async (d: Delivery) => {
        list.push(d.id);
        await new Promise((r) => setTimeout(r, 2));
      };
      a.consume(topic, slow(byConsumer.a), { concurrency: 4 });
      b.consume(topic, slow(byConsumer.b), { concurrency: 4 });
      const sent = Array.from({ length: 300 }, (_, i) => message(i, `k${i % 7}`));
      await a.publish(topic, sent);
      await waitFor(() => byConsumer.a.length + byConsumer.b.length >= 300, { what: 'all deliveries' });
      await new Promise((r) => setTimeout(r, 200));
      const all = [...byConsumer.a, ...byConsumer.b];
      expect(all).toHaveLength(300);
      expect(new Set(all).size).toBe(300);
      expect(byConsumer.a.length).toBeGreaterThan(0);
      expect(byConsumer.b.length).toBeGreaterThan(0);
    });

    it('when a message id is published again while the first copy is queued, then it is delivered once', async () => {
      const m = message(1);
      await a.publish(topic, [m]);
      await b.publish(topic, [{ ...m, payload: { n: 2 } }]);
      expect(await a.depth(topic)).toBe(1);
      const seen: number[] = [];
      a.consume<{ n: number }>(topic, async (d) => {
        seen.push(d.payload.n);
      });
      await waitFor(() => seen.length === 1, { what: 'delivery' });
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual([1]);
    });

    it('when a consumer closes, then it waits for the handler in flight and takes nothing more', async () => {
      let finished = 0;
      let started = 0;
      const consumer = a.consume(topic, async () => {
        started++;
        await new Promise((r) => setTimeout(r, 300));
        finished++;
      });
      await a.publish(topic, [message(1), message(2)]);
      await waitFor(() => started === 1, { what: 'first handler' });
      await consumer.close();
      expect(finished).toBe(1);
      expect(started).toBe(1);
      expect(await a.depth(topic)).toBe(1);
    });

    describe('batches', () => {
      type Seen = { id: string; n: number; attempt: number; at: number };
      const record = (list: Seen[]) => (d: Delivery<{ n: number }>) =>
        list.push({ id: d.id, n: d.payload.n, attempt: d.attempt, at: Date.now() });

      it('when messages wait, then a batch holds what is waiting up to maxBatch, in publish order', async () => {
        const sent = Array.from({ length: 25 }, (_, i) => message(i));
        await a.publish(topic, sent.slice(0, 12));
        await a.publish(topic, sent.slice(12));
        const batches: number[][] = [];
        a.consumeBatch<{ n: number }>(
          topic,
          async (ds) => {
            batches.push(ds.map((d) => d.payload.n));
          },
          { maxBatch: 10 },
        );
        await waitFor(() => batches.flat().length === 25, { what: '25 deliveries' });
        expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
        expect(batches.flat()).toEqual(sent.map((m) => m.payload.n));
      });

      it('when one message arrives at low load, then it is delivered at once, alone', async () => {
        const batches: { size: number; at: number }[] = [];
        a.consumeBatch(
          topic,
          async (ds) => {
            batches.push({ size: ds.length, at: Date.now() });
          },
          { maxBatch: 100 },
        );
        await new Promise((r) => setTimeout(r, 100)); // the consumer is idle, waiting
        const publishedAt = Date.now();
        await a.publish(topic, [message(1)]);
        await waitFor(() => batches.length === 1, { what: 'the delivery' });
        expect(batches[0]!.size).toBe(1);
        // No waiting for the batch to fill; the bound leaves room for a loaded machine.
        expect(batches[0]!.at - publishedAt).toBeLessThan(400);
      });

      it('when a batch names items in retry, then only those come back, each after its own delay, with the next attempt', async () => {
        const seen: Seen[] = [];
        const [m0, m1, m2] = [message(0), message(1), message(2)];
        a.consumeBatch<{ n: number }>(
          topic,
          async (ds) => {
            ds.forEach(record(seen));
            const retry = new Map<string, unknown>();
            for (const d of ds) {
              if (d.attempt > 1) continue;
              if (d.id === m1.id) retry.set(d.id, new Error('transient'));
              if (d.id === m2.id) retry.set(d.id, new RetryLater(400));
            }
            return { retry };
          },
          { maxBatch: 10, backoff: { initialMs: 100, maxMs: 1000, jitter: false } },
        );
        await a.publish(topic, [m0, m1, m2]);
        await waitFor(() => seen.length === 5, { what: 'five deliveries' });
        await new Promise((r) => setTimeout(r, 200));
        expect(seen).toHaveLength(5);
        const of = (id: string) => seen.filter((s) => s.id === id);
        expect(of(m0.id).map((s) => s.attempt)).toEqual([1]);
        expect(of(m1.id).map((s) => s.attempt)).toEqual([1, 2]);
        expect(of(m2.id).map((s) => s.attempt)).toEqual([1, 2]);
        expect(of(m1.id)[1]!.at - of(m1.id)[0]!.at).toBeGreaterThanOrEqual(90);
        expect(of(m2.id)[1]!.at - of(m2.id)[0]!.at).toBeGreaterThanOrEqual(380);
      });

      it('when a batch handler throws, then every item of the batch comes back with the next attempt', async () => {
        const seen: Seen[] = [];
        a.consumeBatch<{ n: number }>(
          topic,
          async (ds) => {
            ds.forEach(record(seen));
            if (ds.some((d) => d.attempt === 1)) throw new Error('whole batch failed');
          },
          { maxBatch: 10, backoff: fastBackoff },
        );
        const sent = [message(0), message(1), message(2)];
        await a.publish(topic, sent);
        await waitFor(() => seen.length === 6, { what: 'six deliveries' });
        await new Promise((r) => setTimeout(r, 200));
        expect(seen).toHaveLength(6);
        for (const m of sent) expect(seen.filter((s) => s.id === m.id).map((s) => s.attempt)).toEqual([1, 2]);
      });

      it('when one item keeps failing, then it alone goes to onExhausted, once, with its own error', async () => {
        const seen: Seen[] = [];
        const exhausted: { id: string; attempt: number; error: unknown }[] = [];
        const [good, bad] = [message(0), message(1)];
        a.consumeBatch<{ n: number }>(
          topic,
          async (ds) => {
            ds.forEach(record(seen));
            return {
              retry: new Map(ds.filter((d) => d.id === bad.id).map((d) => [d.id, new Error('bad item')])),
            };
          },
          {
            maxBatch: 10,
            maxAttempts: 3,
            backoff: fastBackoff,
            onExhausted: (d, error) => {
              exhausted.push({ id: d.id, attempt: d.attempt, error });
            },
          },
        );
        await a.publish(topic, [good, bad]);
        await waitFor(() => exhausted.length === 1, { what: 'exhaustion' });
        await new Promise((r) => setTimeout(r, 300));
        expect(seen.filter((s) => s.id === good.id)).toHaveLength(1);
        expect(seen.filter((s) => s.id === bad.id).map((s) => s.attempt)).toEqual([1, 2, 3]);
        expect(exhausted).toHaveLength(1);
        expect(exhausted[0]).toMatchObject({ id: bad.id, attempt: 3 });
        expect((exhausted[0]!.error as Error).message).toBe('bad item');
        expect(await a.depth(topic)).toBe(0);
      });

      it('when a message id is published again while the first copy is delayed, then it is delivered once', async () => {
        const m = message(1);
        await a.publish(topic, [m], { delayMs: 300 });
        await b.publish(topic, [{ ...m, payload: { n: 2 } }]);
        expect(await a.depth(topic)).toBe(1);
        const seen: Seen[] = [];
        a.consumeBatch<{ n: number }>(topic, async (ds) => void ds.forEach(record(seen)), { maxBatch: 10 });
        await waitFor(() => seen.length === 1, { what: 'delivery' });
        await new Promise((r) => setTimeout(r, 200));
        expect(seen.map((s) => s.n)).toEqual([1]);
      });

      it('when a message id is published again while the first copy is in flight or waits to be retried, then the copy is ignored', async () => {
        const m = message(1);
        const seen: Seen[] = [];
        let release!: () => void;
        const released = new Promise<void>((r) => (release = r));
        a.consumeBatch<{ n: number }>(
          topic,
          async (ds) => {
            ds.forEach(record(seen));
            if (seen.length === 1) {
              await released;
              return { retry: new Map([[m.id, new RetryLater(300)]]) };
            }
            return undefined;
          },
          { maxBatch: 10 },
        );
        await a.publish(topic, [m]);
        await waitFor(() => seen.length === 1, { what: 'first delivery' });
        await b.publish(topic, [{ ...m, payload: { n: 2 } }]); // in flight
        release();
        await waitFor(async () => (await a.depth(topic)) === 1, { what: 'the retry scheduled' });
        await b.publish(topic, [{ ...m, payload: { n: 3 } }]); // delayed for its retry
        await waitFor(() => seen.length === 2, { what: 'the retry' });
        await new Promise((r) => setTimeout(r, 300));
        expect(seen.map((s) => [s.n, s.attempt])).toEqual([
          [1, 1],
          [1, 2],
        ]);
      });

      it('when two consumers take batches from one topic, then the work is split and no message is handled twice', async () => {
        const byConsumer = { a: [] as string[], b: [] as string[] };
        const slow = (list: string[]) => async (ds: readonly Delivery[]) => {
          list.push(...ds.map((d) => d.id));
          await new Promise((r) => setTimeout(r, 5));
        };
        a.consumeBatch(topic, slow(byConsumer.a), { maxBatch: 20, concurrency: 2 });
        b.consumeBatch(topic, slow(byConsumer.b), { maxBatch: 20, concurrency: 2 });
        await new Promise((r) => setTimeout(r, 50));
        const sent = Array.from({ length: 600 }, (_, i) => message(i, `k${i % 7}`));
        for (let i = 0; i < sent.length; i += 50) await a.publish(topic, sent.slice(i, i + 50));
        await waitFor(() => byConsumer.a.length + byConsumer.b.length >= 600, { what: 'all deliveries' });
        await new Promise((r) => setTimeout(r, 200));
        const all = [...byConsumer.a, ...byConsumer.b];
        expect(all).toHaveLength(600);
        expect(new Set(all).size).toBe(600);
        expect(byConsumer.a.length).toBeGreaterThan(0);
        expect(byConsumer.b.length).toBeGreaterThan(0);
      });
    });
  });
}
