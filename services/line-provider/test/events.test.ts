import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, grpcError, inDays, outboxKinds, startHarness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.dispose();
});

type Req = Record<string, unknown>;

describe('admin calls', () => {
  it('when an event is created, then it is OPEN, PROCESSING, version 1, with empty aggregates and a CREATED message', async () => {
    const deadline = inDays(2);
    const event = await createEvent(h, '  Cup final  ', deadline);
    expect(event).toMatchObject({
      title: 'Cup final',
      state: v1.EventState.EVENT_STATE_OPEN,
      status: v1.EventStatus.EVENT_STATUS_PROCESSING,
      version: 1,
      scores: { count: 0, sum: 0, average: 0, histogram: [0, 0, 0, 0, 0] },
    });
    expect(event.deadline?.getTime()).toBe(deadline.getTime());
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED']);
  });

  it.each([
    ['an empty title', { title: '   ', deadline: inDays(1) }, 'title'],
    ['a 201-character title', { title: 'x'.repeat(201), deadline: inDays(1) }, 'title'],
    ['a past deadline', { title: 'Late', deadline: new Date(Date.now() - 1000) }, 'deadline'],
    ['no deadline', { title: 'Never' }, 'deadline'],
  ])(
    'when an event is created with %s, then INVALID_ARGUMENT names the field and nothing is written',
    async (_, req, field) => {
      const before = await h.db.query('SELECT count(*)::int AS n FROM events');
      const error = await grpcError(h.call('createEvent', req, 'admin'), grpc.status.INVALID_ARGUMENT);
      expect(error.details).toContain(field);
      expect(error.metadata.get('x-invalid-field')).toEqual([field]);
      expect((await h.db.query('SELECT count(*)::int AS n FROM events')).rows).toEqual(before.rows);
    },
  );

  it('when an admin call has no token or an unknown one, then UNAUTHENTICATED; with the internal token, PERMISSION_DENIED', async () => {
    const req = { title: 'Nope', deadline: inDays(1) };
    await grpcError(h.call('createEvent', req), grpc.status.UNAUTHENTICATED);
    await grpcError(h.call('createEvent', req, 'wrong-token-wrong-token'), grpc.status.UNAUTHENTICATED);
    await grpcError(h.call('createEvent', req, 'internal'), grpc.status.PERMISSION_DENIED);
    const event = await createEvent(h);
    await grpcError(h.call('closeEvent', { eventId: event.id }), grpc.status.UNAUTHENTICATED);
    await grpcError(h.call('updateEvent', { eventId: event.id, title: 'x' }), grpc.status.UNAUTHENTICATED);
    await grpcError(h.call('cancelEvent', { eventId: event.id }), grpc.status.UNAUTHENTICATED);
    const { rows } = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE title = 'Nope'`,
    );
    expect(rows[0]!.n).toBe(0);
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED']);
  });

  it('when an open event is updated, then title and deadline change, the version grows and an UPDATED message is written', async () => {
    const event = await createEvent(h);
    const deadline = inDays(3);
    const res = await h.call<Req, v1.UpdateEventResponse>(
      'updateEvent',
      { eventId: event.id, title: 'Renamed', deadline, expectedVersion: 1 },
      'admin',
    );
    expect(res.event).toMatchObject({ title: 'Renamed', version: 2 });
    expect(res.event!.deadline!.getTime()).toBe(deadline.getTime());
    const titleOnly = await h.call<Req, v1.UpdateEventResponse>(
      'updateEvent',
      { eventId: event.id, title: 'Again' },
      'admin',
    );
    expect(titleOnly.event).toMatchObject({ title: 'Again', version: 3 });
    expect(titleOnly.event!.deadline!.getTime()).toBe(deadline.getTime());
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED', 'UPDATED', 'UPDATED']);
  });

  it('when an update names a stale version or nothing to change, then ABORTED or INVALID_ARGUMENT and nothing changes', async () => {
    const event = await createEvent(h);
    await grpcError(
      h.call('updateEvent', { eventId: event.id, title: 'x', expectedVersion: 7 }, 'admin'),
      grpc.status.ABORTED,
    );
    await grpcError(h.call('updateEvent', { eventId: event.id }, 'admin'), grpc.status.INVALID_ARGUMENT);
    await grpcError(h.call('updateEvent', { eventId: 999_999, title: 'x' }, 'admin'), grpc.status.NOT_FOUND);
    const res = await h.call<Req, v1.GetEventResponse>('getEvent', { eventId: event.id });
    expect(res.event).toMatchObject({ title: 'Final', version: 1 });
  });

  it('when an event is closed, then it is CLOSED, closing again changes nothing, and updates are refused', async () => {
    const event = await createEvent(h);
    const closed = await h.call<Req, v1.CloseEventResponse>('closeEvent', { eventId: event.id }, 'admin');
    expect(closed.event).toMatchObject({ state: v1.EventState.EVENT_STATE_CLOSED, version: 2 });
    const again = await h.call<Req, v1.CloseEventResponse>('closeEvent', { eventId: event.id }, 'admin');
    expect(again.event).toMatchObject({ state: v1.EventState.EVENT_STATE_CLOSED, version: 2 });
    await grpcError(
      h.call('updateEvent', { eventId: event.id, title: 'x' }, 'admin'),
      grpc.status.FAILED_PRECONDITION,
    );
    await grpcError(h.call('cancelEvent', { eventId: event.id }, 'admin'), grpc.status.FAILED_PRECONDITION);
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED', 'CLOSED']);
  });

  it('when an event is cancelled, then it is CANCELLED and can no longer be closed', async () => {
    const event = await createEvent(h);
    const res = await h.call<Req, v1.CancelEventResponse>(
      'cancelEvent',
      { eventId: event.id, reason: 'rain' },
      'admin',
    );
    expect(res.event?.state).toBe(v1.EventState.EVENT_STATE_CANCELLED);
    await grpcError(h.call('closeEvent', { eventId: event.id }, 'admin'), grpc.status.FAILED_PRECONDITION);
    await grpcError(
      h.call('cancelEvent', { eventId: event.id, reason: 'x'.repeat(501) }, 'admin'),
      grpc.status.INVALID_ARGUMENT,
    );
    expect(await outboxKinds(h.db, event.id)).toEqual(['CREATED', 'CANCELLED']);
  });
});

describe('reads', () => {
  it('when an unknown or invalid event id is asked for, then NOT_FOUND or INVALID_ARGUMENT', async () => {
    await grpcError(h.call('getEvent', { eventId: 424242 }), grpc.status.NOT_FOUND);
    await grpcError(h.call('getEvent', { eventId: 0 }), grpc.status.INVALID_ARGUMENT);
    await grpcError(h.call('getEvent', { eventId: -5 }), grpc.status.INVALID_ARGUMENT);
  });

  it('when events are listed page by page, then every event comes once, in id order, filtered by state', async () => {
    const created = [];
    for (let i = 0; i < 7; i++) created.push(await createEvent(h, `Page ${i}`));
    await h.call('closeEvent', { eventId: created[3]!.id }, 'admin');
    const seen: v1.Event[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const res = await h.call<Req, v1.ListEventsResponse>('listEvents', {
        state: v1.EventState.EVENT_STATE_OPEN,
        pageSize: 2,
        pageToken,
      });
      expect(res.events.length).toBeLessThanOrEqual(2);
      seen.push(...res.events);
      pageToken = res.nextPageToken;
      pages++;
    } while (pageToken && pages < 100);
    const ids = seen.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen.every((e) => e.state === v1.EventState.EVENT_STATE_OPEN)).toBe(true);
    expect(ids).toEqual(expect.arrayContaining(created.filter((_, i) => i !== 3).map((e) => e.id)));
    expect(ids).not.toContain(created[3]!.id);
  });

  it('when a page size over the cap is asked for, then the page is capped at 500', async () => {
    await h.db.exec(
      `INSERT INTO events (title, deadline) SELECT 'bulk ' || g, now() + interval '1 day' FROM generate_series(1, 520) g`,
    );
    const res = await h.call<Req, v1.ListEventsResponse>('listEvents', { pageSize: 10_000 });
    expect(res.events).toHaveLength(500);
    expect(res.nextPageToken).not.toBe('');
  });

  it('when a page token or state is malformed, then INVALID_ARGUMENT', async () => {
    await grpcError(h.call('listEvents', { pageToken: 'not-a-token' }), grpc.status.INVALID_ARGUMENT);
    await grpcError(h.call('listEvents', { pageSize: -1 }), grpc.status.INVALID_ARGUMENT);
    await grpcError(h.call('listEvents', { state: 42 }), grpc.status.INVALID_ARGUMENT);
  });
});
