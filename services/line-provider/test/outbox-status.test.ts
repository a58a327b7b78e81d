import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcError, startHarness, type Harness } from './helpers.js';

/** GetOutboxStatus: the outbox backlog for an operations console (admin). */
describe('GetOutboxStatus', () => {
  let h: Harness;
  beforeAll(async () => {
    // The relay polls once an hour: it sees only rows announced by the outbox's NOTIFY trigger.
    h = await startHarness({ OUTBOX_POLL_INTERVAL: '1h' });
  });
  afterAll(async () => {
    await h?.dispose();
  });

  it('when asked without the admin token, then UNAUTHENTICATED; with the internal one, PERMISSION_DENIED', async () => {
    await grpcError(h.call('getOutboxStatus', {}), status.UNAUTHENTICATED);
    await grpcError(h.call('getOutboxStatus', {}, 'not-a-token'), status.UNAUTHENTICATED);
    await grpcError(h.call('getOutboxStatus', {}, 'internal'), status.PERMISSION_DENIED);
  });

  it('when rows wait in the outbox, then it counts them and says how old the oldest is', async () => {
    const read = () =>
      h.call<object, { unpublished: number; lagSeconds: number }>('getOutboxStatus', {}, 'admin');
    expect(await read()).toMatchObject({ unpublished: 0, lagSeconds: 0 });
    // Written without the NOTIFY (triggers off for this transaction), so the relay leaves them be.
    await h.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL session_replication_role = replica`);
      await tx.query(
        `INSERT INTO outbox (topic, message_key, type, payload, created_at)
         VALUES ('test.topic', 'k', 'T', '{}', now() - interval '3 seconds'), ('test.topic', 'k', 'T', '{}', now())`,
      );
    });
    const backlog = await read();
    expect(backlog.unpublished).toBe(2);
    expect(backlog.lagSeconds).toBeGreaterThanOrEqual(2.9);
    expect(backlog.lagSeconds).toBeLessThan(60);
  });
});
