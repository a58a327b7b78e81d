/*
 * Group commit: single writes that arrive while others run go to the database together, in one
 * statement. A write goes out at once while fewer than `maxInFlight` statements are running, so a
 * quiet service answers as fast as with one statement per write; under load, whatever arrives while
 * they run waits for the next free one and goes in it together, up to `maxBatch`. So the busier the
 * service, the fewer statements and commits per write (the round trip, the commit and its WAL flush
 * are paid once per batch), and no write waits to fill a batch.
 *
 * Each write still gets its own answer. A batch holds at most one write per `key`: a second one with
 * the same key waits for a later batch, so writes that must keep their order (one row's versions) are
 * written in the order they arrived. When a batch's statement fails, each of its writes is tried again
 * alone, so one that cannot be written fails by itself with its own error and the rest go through:
 * `writeMany` must therefore write all of a batch or nothing (one statement, one transaction) and be
 * safe to repeat.
 */

export interface GroupCommitOptions {
  /** Statements running at once, at most (each holds a pooled connection while it runs). */
  maxInFlight: number;
  /** Writes in one statement, at most. */
  maxBatch: number;
}

export interface GroupCommit<I, R> {
  /** Writes one item, in a batch with whatever else is waiting; its own answer. */
  write(item: I): Promise<R>;
  /** Writes waiting and statements running, for tests and metrics. */
  stats(): { waiting: number; inFlight: number };
}

interface Waiting<I, R> {
  item: I;
  key: string;
  resolve: (answer: R) => void;
  reject: (error: unknown) => void;
}

export function createGroupCommit<I, R>(deps: {
  options: GroupCommitOptions;
  /** Writes that may not share a batch have the same key. */
  key: (item: I) => string;
  /** Writes all the items in one transaction: one answer per item, in order. */
  writeMany: (items: I[]) => Promise<R[]>;
}): GroupCommit<I, R> {
  const { options, key, writeMany } = deps;
  let waiting: Waiting<I, R>[] = [];
  let inFlight = 0;

  /** The next batch: the oldest waiting writes, one per key, up to maxBatch. */
  const take = (): Waiting<I, R>[] => {
    if (waiting.length <= 1) {
      const batch = waiting;
      waiting = [];
      return batch;
    }
    const batch: Waiting<I, R>[] = [];
    const rest: Waiting<I, R>[] = [];
    const keys = new Set<string>();
    for (const w of waiting) {
      if (batch.length < options.maxBatch && !keys.has(w.key)) {
        keys.add(w.key);
        batch.push(w);
      } else {
        rest.push(w);
      }
    }
    waiting = rest;
    return batch;
  };

  const run = async (batch: Waiting<I, R>[]): Promise<void> => {
    try {
      const answers = await writeMany(batch.map((w) => w.item));
      if (answers.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} writes answered ${answers.length} times`);
      }
      batch.forEach((w, i) => w.resolve(answers[i]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      // Alone, each either succeeds or fails with its own error.
      await Promise.all(batch.map((w) => run([w])));
    }
  };

  const pump = () => {
    while (inFlight < options.maxInFlight && waiting.length > 0) {
      const batch = take();
      inFlight += 1;
      void run(batch).finally(() => {
        inFlight -= 1;
        pump();
      });
    }
  };

  return {
    write(item: I): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        waiting.push({ item, key: key(item), resolve, reject });
        pump();
      });
    },
    stats: () => ({ waiting: waiting.length, inFlight }),
  };
}
