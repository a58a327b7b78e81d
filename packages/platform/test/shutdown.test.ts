import { describe, expect, it } from 'vitest';
import { createShutdown, silentLogger } from '../src/index.js';
import { waitFor } from '../src/testing/index.js';

describe('shutdown', () => {
  it('when run, then steps stop in reverse order of registration, once, even if one fails', async () => {
    const order: string[] = [];
    const exits: number[] = [];
    const shutdown = createShutdown({ logger: silentLogger(), exit: (code) => exits.push(code) });
    shutdown.add('database', () => {
      order.push('database');
    });
    shutdown.add('relay', () => {
      order.push('relay');
      throw new Error('relay stop failed');
    });
    shutdown.add('http', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('http');
    });
    expect(shutdown.closing).toBe(false);
    const first = shutdown.run('test');
    expect(shutdown.closing).toBe(true);
    const second = shutdown.run('again');
    expect(second).toBe(first);
    await first;
    expect(order).toEqual(['http', 'relay', 'database']);
    expect(exits).toEqual([]);
    process.exitCode = 0;
  });

  it('when a step hangs past the timeout, then the process is told to exit with failure', async () => {
    const exits: number[] = [];
    const shutdown = createShutdown({
      logger: silentLogger(),
      timeoutMs: 50,
      exit: (code) => exits.push(code),
    });
    shutdown.add('stuck', () => new Promise<void>(() => undefined));
    void shutdown.run('test');
    await waitFor(() => exits.length > 0, { what: 'the exit' });
    expect(exits).toEqual([1]);
  });
});
