/** The longest `Prefer: wait` honoured, in seconds; a longer one is shortened to it. */
export const MAX_WAIT_SECONDS = 30;

/**
 * RFC 7240 `Prefer`: the seconds of the first `wait=N` preference, at most MAX_WAIT_SECONDS, or
 * undefined when there is none (or it is not a whole number). Other preferences, parameters after `;`
 * and unknown tokens are ignored, as RFC 7240 asks.
 */
export function preferredWait(header: string | string[] | undefined): number | undefined {
  for (const line of Array.isArray(header) ? header : header ? [header] : []) {
    for (const preference of line.split(',')) {
      const [token = '', value = ''] = preference
        .split(';')[0]!
        .split('=', 2)
        .map((part) => part.trim());
      if (token.toLowerCase() !== 'wait') continue;
      const unquoted = value.replace(/^"(.*)"$/, '$1');
      if (!/^\d{1,9}$/.test(unquoted)) return undefined;
      return Math.min(Number(unquoted), MAX_WAIT_SECONDS);
    }
  }
  return undefined;
}

export interface Waiter {
  /** Resolves true when a settlement of the score was announced since the last call, false after `ms`. */
  next(ms: number): Promise<boolean>;
  /** Stops waiting: every waiter must be released. */
  release(): void;
}

/**
 * Requests waiting for scores to settle, woken by the settlement's NOTIFY (one LISTEN connection per
 * process feeds `notify`). A waiter holds a timer and a closure, no database connection: the request
 * reads the score once when it starts and once each time it is woken.
 */
export function createSettlementWaits() {
  const waiting = new Map<string, Set<{ announced: boolean; wake?: () => void }>>();
  let closed = false;

  return {
    /**
     * Shutting down: every waiting request is woken and no wait sleeps any more, so requests in
     * flight answer at once (with the score as it stands) instead of holding the shutdown for up to
     * MAX_WAIT_SECONDS.
     */
    closeAll(): void {
      closed = true;
      for (const set of waiting.values()) for (const waiter of set) waiter.wake?.();
    },

    get closed(): boolean {
      return closed;
    },

    /** A NOTIFY payload: settled score ids, comma-separated. */
    notify(payload: string): void {
      for (const id of payload.split(',')) {
        for (const waiter of waiting.get(id) ?? []) {
          waiter.announced = true;
          waiter.wake?.();
        }
      }
    },

    /** Waiting requests, for metrics and tests. */
    size(): number {
      let n = 0;
      for (const set of waiting.values()) n += set.size;
      return n;
    },

    /** Registers before the first read, so that a settlement between that read and the wait is seen. */
    register(scoreId: string): Waiter {
      const state: { announced: boolean; wake?: () => void } = { announced: false };
      let set = waiting.get(scoreId);
      if (!set) waiting.set(scoreId, (set = new Set()));
      set.add(state);
      return {
        next(ms) {
          if (closed) return Promise.resolve(false);
          if (state.announced) {
            state.announced = false;
            return Promise.resolve(true);
          }
          return new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => {
              state.wake = undefined;
              resolve(false);
            }, ms);
            state.wake = () => {
              clearTimeout(timer);
              state.wake = undefined;
              state.announced = false;
              resolve(true);
            };
          });
        },
        release() {
          state.wake?.();
          set.delete(state);
          if (set.size === 0 && waiting.get(scoreId) === set) waiting.delete(scoreId);
        },
      };
    },
  };
}

export type SettlementWaits = ReturnType<typeof createSettlementWaits>;
