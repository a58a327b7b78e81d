import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { AppError, silentLogger } from '@scoreline/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, INTERNAL_TOKEN, startHarness, type Harness } from '../../line-provider/test/helpers.js';
import {
  createLineProviderClient,
  type LineProviderClient,
} from '../src/data-access/line-provider-client.js';

/** The AppError a promise rejects with (fails the test if it resolves or throws something else). */
async function appError(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** A port nothing listens on: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('line-provider client', () => {
  let h: Harness;
  let client: LineProviderClient;
  beforeAll(async () => {
    h = await startHarness();
    client = createLineProviderClient({
      address: `127.0.0.1:${h.port}`,
      internalToken: INTERNAL_TOKEN,
      logger: silentLogger(),
    });
  });
  afterAll(async () => {
    client?.close();
    await h?.dispose();
  });

  it('when an event exists, then getEvent maps it to an EventView', async () => {
    const created = await createEvent(h, 'Derby');
    const event = await client.getEvent(created.id);
    expect(event).toEqual({
      id: created.id,
      title: 'Derby',
      deadline: created.deadline,
      state: 'OPEN',
      status: 'PROCESSING',
      scores: { count: 0, sum: 0, average: 0, histogram: [0, 0, 0, 0, 0] },
      version: 1,
      createdAt: created.createdAt,
      updatedAt: created.updatedAt,
    });
    expect(event?.deadline).toBeInstanceOf(Date);
  });

  it('when an event is unknown, then getEvent answers null', async () => {
    expect(await client.getEvent(987_654)).toBeNull();
  });

  it('when an id is malformed, then the call fails INVALID_ARGUMENT', async () => {
    expect((await appError(client.getEvent(0))).code).toBe('INVALID_ARGUMENT'); // line-provider's answer
    expect((await appError(client.getEvent(1.5))).code).toBe('INVALID_ARGUMENT'); // refused before sending
  });

  it('when events are listed by state a page at a time, then every page follows the filter', async () => {
    const [a, b, c] = [await createEvent(h, 'A'), await createEvent(h, 'B'), await createEvent(h, 'C')];
    await h.call('closeEvent', { eventId: b.id }, 'admin');

    const open: number[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await client.listEvents({ state: 'OPEN', pageSize: 1, pageToken });
      expect(page.events.length).toBeLessThanOrEqual(1);
      for (const e of page.events) expect(e.state).toBe('OPEN');
      open.push(...page.events.map((e) => e.id));
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== '' && pages < 100);
    expect(open).toEqual(expect.arrayContaining([a.id, c.id]));
    expect(open).not.toContain(b.id);

    const closed = await client.listEvents({ state: 'CLOSED' });
    expect(closed.events.map((e) => [e.id, e.state])).toEqual([[b.id, 'CLOSED']]);
    expect(closed.nextPageToken).toBe('');
    const all = await client.listEvents({});
    expect(all.events.map((e) => e.id)).toEqual(expect.arrayContaining([a.id, b.id, c.id]));
  });

  it('when a score is applied and then an older version arrives, then APPLIED then SUPERSEDED', async () => {
    const event = await createEvent(h);
    const scoreId = randomUUID();
    const score = { scoreId, eventId: event.id, userId: 'user-1' };
    const applied = await client.applyScore({ ...score, version: 2, rate: 4 });
    expect(applied).toEqual({
      outcome: 'APPLIED',
      reason: null,
      appliedVersion: 2,
      appliedRate: 4,
      eventVersion: expect.any(Number) as number,
    });
    expect(applied.eventVersion).toBeGreaterThan(event.version);
    expect(await client.applyScore({ ...score, version: 1, rate: 1 })).toMatchObject({
      outcome: 'SUPERSEDED',
      reason: null,
      appliedVersion: 2,
      appliedRate: 4,
    });
    expect((await client.getEvent(event.id))?.scores).toMatchObject({ count: 1, sum: 4 });

    const reverted = await client.revertScore({ scoreId, version: 2 });
    expect(reverted).toMatchObject({ outcome: 'REVERTED', appliedVersion: 0, appliedRate: null });
    expect((await client.getEvent(event.id))?.scores).toMatchObject({ count: 0, sum: 0 });
    expect(await client.revertScore({ scoreId: randomUUID(), version: 1 })).toMatchObject({
      outcome: 'TOMBSTONED',
      appliedVersion: 0,
      appliedRate: null,
    });
  });

  it('when a score is for an unknown event, then it is REJECTED with EVENT_NOT_FOUND', async () => {
    const result = await client.applyScore({
      scoreId: randomUUID(),
      version: 1,
      eventId: 987_654,
      userId: 'user-1',
      rate: 3,
    });
    expect(result).toEqual({
      outcome: 'REJECTED',
      reason: 'EVENT_NOT_FOUND',
      appliedVersion: 0,
      appliedRate: null,
      eventVersion: 0,
    });
  });

  it('when scores are applied and reverted in batches, then each item gets its own result, in order', async () => {
    const [open, closed] = [await createEvent(h), await createEvent(h)];
    await h.call('closeEvent', { eventId: closed.id }, 'admin');
    const [a, b] = [randomUUID(), randomUUID()];
    const applied = await client.applyScores([
      { scoreId: a, version: 2, eventId: open.id, userId: 'user-a', rate: 5 },
      { scoreId: randomUUID(), version: 1, eventId: closed.id, userId: 'user-c', rate: 3 },
      { scoreId: a, version: 1, eventId: open.id, userId: 'user-a', rate: 1 },
      { scoreId: b, version: 1, eventId: open.id, userId: 'user-b', rate: 2 },
    ]);
    const eventVersion = (await client.getEvent(open.id))!.version;
    expect(eventVersion).toBe(open.version + 1); // one move for the whole batch
    expect(applied).toEqual([
      { outcome: 'APPLIED', reason: null, appliedVersion: 2, appliedRate: 5, eventVersion },
      { outcome: 'REJECTED', reason: 'EVENT_CLOSED', appliedVersion: 0, appliedRate: null, eventVersion: 2 },
      // Version 1 of `a` comes first in version order: applied, then replaced by version 2.
      { outcome: 'APPLIED', reason: null, appliedVersion: 1, appliedRate: 1, eventVersion },
      { outcome: 'APPLIED', reason: null, appliedVersion: 1, appliedRate: 2, eventVersion },
    ]);
    expect((await client.getEvent(open.id))?.scores).toMatchObject({ count: 2, sum: 7 });

    const reverted = await client.revertScores([
      { scoreId: a, version: 2 },
      { scoreId: b, version: 7 },
    ]);
    expect(reverted).toEqual([
      { outcome: 'REVERTED', appliedVersion: 1, appliedRate: 1, eventVersion: eventVersion + 1 },
      { outcome: 'TOMBSTONED', appliedVersion: 1, appliedRate: 2, eventVersion: eventVersion + 1 },
    ]);
    expect((await client.getEvent(open.id))?.scores).toMatchObject({ count: 2, sum: 3 });
    expect(await client.applyScores([])).toEqual([]);
  });

  it('when a batch item is malformed, then the batch fails INVALID_ARGUMENT naming it and nothing moves', async () => {
    const event = await createEvent(h);
    const item = { scoreId: randomUUID(), version: 1, eventId: event.id, userId: 'user-1', rate: 3 };
    const refused = await appError(client.applyScores([item, { ...item, scoreId: randomUUID(), rate: 9 }]));
    expect(refused.code).toBe('INVALID_ARGUMENT'); // line-provider's answer
    expect(refused.message).toContain('items[1].rate');
    expect(refused.details).toMatchObject({ method: 'ApplyScores', grpcCode: 'INVALID_ARGUMENT' });
    const unsent = await appError(client.revertScores([{ scoreId: item.scoreId, version: 1.5 }]));
    expect(unsent).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'items[0].version' }); // refused before sending
    expect((await client.getEvent(event.id))?.version).toBe(1);
  });

  it('when line-provider is healthy, then ping resolves', async () => {
    await expect(client.ping()).resolves.toBeUndefined();
  });

  it('when the internal token is wrong, then internal calls fail INTERNAL naming the token', async () => {
    const wrong = createLineProviderClient({
      address: `127.0.0.1:${h.port}`,
      internalToken: 'not-the-token',
      logger: silentLogger(),
    });
    try {
      const error = await appError(wrong.revertScore({ scoreId: randomUUID(), version: 1 }));
      expect(error.code).toBe('INTERNAL');
      expect(error.message).toMatch(/internal token/);
      expect(error.details).toMatchObject({ method: 'RevertScore', grpcCode: 'UNAUTHENTICATED' });
      expect(error.cause).toBeDefined();
      const batch = await appError(
        wrong.applyScores([{ scoreId: randomUUID(), version: 1, eventId: 1, userId: 'u', rate: 3 }]),
      );
      expect(batch.code).toBe('INTERNAL');
      expect(batch.details).toMatchObject({ method: 'ApplyScores', grpcCode: 'UNAUTHENTICATED' });
      // Reads need no token.
      expect(await wrong.getEvent(987_654)).toBeNull();
    } finally {
      wrong.close();
    }
  });
});

describe('line-provider client, line-provider unreachable', () => {
  it('when nothing listens on the port, then calls fail UNAVAILABLE within the deadline', async () => {
    const client = createLineProviderClient({
      address: `127.0.0.1:${await closedPort()}`,
      internalToken: INTERNAL_TOKEN,
      logger: silentLogger(),
      callTimeoutMs: 1000,
    });
    try {
      const started = Date.now();
      const error = await appError(client.getEvent(1));
      expect(Date.now() - started).toBeLessThan(1000);
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.details).toMatchObject({ method: 'GetEvent', grpcCode: 'UNAVAILABLE' });
      expect((await appError(client.ping())).code).toBe('UNAVAILABLE');
      const applyError = await appError(
        client.applyScore({ scoreId: randomUUID(), version: 1, eventId: 1, userId: 'u', rate: 3 }),
      );
      expect(applyError.code).toBe('UNAVAILABLE');
      const batchError = await appError(client.revertScores([{ scoreId: randomUUID(), version: 1 }]));
      expect(batchError).toMatchObject({ code: 'UNAVAILABLE', details: { method: 'RevertScores' } });
      expect(Date.now() - started).toBeLessThan(3 * 1000);
    } finally {
      client.close();
    }
  });

  it('when the server accepts connections but never answers, then the call fails UNAVAILABLE at its deadline', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const client = createLineProviderClient({
      address: `127.0.0.1:${port}`,
      internalToken: INTERNAL_TOKEN,
      logger: silentLogger(),
      callTimeoutMs: 300,
    });
    try {
      const started = Date.now();
      const error = await appError(client.getEvent(1));
      const elapsed = Date.now() - started;
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.details).toMatchObject({ grpcCode: 'DEADLINE_EXCEEDED' });
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2000);
    } finally {
      client.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
