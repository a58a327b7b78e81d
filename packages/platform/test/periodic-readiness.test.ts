import { describe, expect, it } from 'vitest';
import { periodic, probeReadiness, silentLogger } from '../src/index.js';
import { waitFor } from '../src/testing/index.js';

describe('probeReadiness', () => {
  it('when every check answers, then it is ready and each check is ok', async () => {
    const probe = await probeReadiness({ database: async () => 1, broker: async () => undefined });
    expect(probe).toEqual({ ready: true, checks: { database: 'ok', broker: 'ok' } });
  });

  it('when a check throws or does not answer in time, then that check is failing and the cause is logged', async () => {
    const warned: unknown[] = [];
    const probe = await probeReadiness(
      {
        database: async () => {
          throw new Error('refused');
        },
        broker: () => new Promise(() => {}),
        lineProvider: async () => 'up',
      },
      { timeoutMs: 50, logger: { warn: (obj: unknown) => void warned.push(obj) } },
    );
    expect(probe).toEqual({
      ready: false,
      checks: { database: 'failing', broker: 'failing', lineProvider: 'ok' },
    });
    expect(warned).toEqual([
      expect.objectContaining({ check: 'database' }),
      expect.objectContaining({ check: 'broker' }),
    ]);
  });
});

describe('periodic', () => {
  it('when started, then it runs after each interval, never two at once, and a failure does not stop it', async () => {
    let runs = 0;
    let inFlight = 0;
    let most = 0;
    const task = periodic(
      'test',
      5,
      async () => {
        runs += 1;
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight -= 1;
        if (runs === 1) throw new Error('first run fails');
      },
      silentLogger(),
    );
    task.start();
    await waitFor(() => runs >= 3, { what: 'three runs' });
    await task.stop();
    const stoppedAt = runs;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(runs).toBe(stoppedAt);
    expect(most).toBe(1);
  });

  it('when runAtStart is set, then the first run starts at once and stop() aborts its signal and waits for it', async () => {
    let aborted: boolean | undefined;
    const task = periodic(
      'test',
      60_000,
      async (signal) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        aborted = signal.aborted;
      },
      silentLogger(),
      { runAtStart: true },
    );
    task.start();
    await task.stop();
    expect(aborted).toBe(true);
  });
});
