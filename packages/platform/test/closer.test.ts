import { describe, expect, it } from 'vitest';
import { createCloser } from '../src/index.js';

describe('closer', () => {
  it('when closed, then steps run one at a time, last-registered first, each once', async () => {
    const order: string[] = [];
    const closer = createCloser();
    closer.defer(() => void order.push('database'));
    closer.defer(async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('cache');
    });
    closer.defer(() => void order.push('server'));
    const first = closer.close();
    expect(closer.close()).toBe(first);
    await first;
    expect(order).toEqual(['server', 'cache', 'database']);
  });

  it('when a step throws, then close rejects with it and the steps before it in the stack stay open', async () => {
    const order: string[] = [];
    const closer = createCloser();
    closer.defer(() => void order.push('database'));
    closer.defer(() => {
      throw new Error('cache close failed');
    });
    closer.defer(() => void order.push('server'));
    await expect(closer.close()).rejects.toThrow('cache close failed');
    await expect(closer.close()).rejects.toThrow('cache close failed');
    expect(order).toEqual(['server']);
  });
});
