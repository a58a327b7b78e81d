/** One thing to close (a pool, a client, a listener, a gauge to unregister, a server to drain); awaited. */
export type CloseStep = () => unknown;

export interface Closer {
  /** Registers a step; steps run last-registered first, so what opened last closes first. */
  defer(step: CloseStep): void;
  /**
   * Runs the steps one after the other, last-registered first, each once; the first that throws
   * stops the rest and rejects. Later calls return the same promise.
   */
  close(): Promise<void>;
}

/**
 * The one owner of what a composition root opened: each part is deferred as it is opened, and stop()
 * is close(). Unlike createShutdown (the process's signal handling), it neither logs nor times out:
 * a failure is the caller's.
 */
export function createCloser(): Closer {
  const steps: CloseStep[] = [];
  let closed: Promise<void> | undefined;
  return {
    defer(step) {
      steps.push(step);
    },
    close() {
      closed ??= (async () => {
        for (let step = steps.pop(); step; step = steps.pop()) await step();
      })();
      return closed;
    },
  };
}
