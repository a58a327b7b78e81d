import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoreLedgerRepository } from '../src/data-access/score-ledger-repository.js';
import { createEvent, startHarness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.dispose();
});

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** The traceparent of each EventChanged row of this event, oldest first. */
async function eventChangedContexts(eventId: number): Promise<(string | null)[]> {
  const { rows } = await h.db.query<{ traceparent: string | null }>(
    `SELECT traceparent FROM outbox WHERE type = 'EventChanged' AND message_key = $1 ORDER BY id`,
    [String(eventId)],
  );
  return rows.map((r) => r.traceparent);
}

describe('the trace context of ApplyScores and RevertScores', () => {
  it('when a call is traced, then the EventChanged rows it writes carry its context, and an untraced call’s carry none', async () => {
    const ledger = createScoreLedgerRepository();
    const event = await createEvent(h);
    const [traced, untraced] = [randomUUID(), randomUUID()];
    const item = (scoreId: string, rate: 1 | 2 | 3 | 4 | 5) => ({
      scoreId,
      version: 1,
      eventId: event.id,
      userId: scoreId,
      rate,
    });

    expect((await ledger.applyScores(h.db, [item(traced, 4)], TRACEPARENT))[0]!.outcome).toBe('APPLIED');
    expect((await ledger.applyScores(h.db, [item(untraced, 2)], null))[0]!.outcome).toBe('APPLIED');
    expect(
      (await ledger.revertScores(h.db, [{ scoreId: traced, version: 1 }], TRACEPARENT))[0]!.outcome,
    ).toBe('REVERTED');
    // The setting lasts one transaction: a later untraced call on the same pool carries nothing.
    expect((await ledger.revertScores(h.db, [{ scoreId: untraced, version: 1 }], null))[0]!.outcome).toBe(
      'REVERTED',
    );

    // CREATED carries nothing (no trace), then the four calls in order.
    expect(await eventChangedContexts(event.id)).toEqual([null, TRACEPARENT, null, TRACEPARENT, null]);
  });
});
