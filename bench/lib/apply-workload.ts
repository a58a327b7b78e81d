import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { v1 } from '@scoreline/contracts';

/**
 * The ApplyScore mix: three items in four apply a new score (fresh UUID, version 1, a random event,
 * user u<n>, rate 1–5); every fourth changes a score applied earlier (version 2, another rate).
 * It remembers the rate in effect for each score, so the database's aggregates can be checked after.
 */
export function createApplyWorkload(options: {
  client: v1.EventServiceClient;
  internalToken: string;
  eventIds: readonly number[];
}) {
  const { client, eventIds } = options;
  const applied = new Map<string, number>(); // score id -> rate in effect
  const changeable: v1.ApplyScoreRequest[] = []; // applied at version 1, not changed yet
  const counts = { newApplied: 0, changesApplied: 0, otherOutcomes: 0 };
  let n = 0;

  const randomRate = () => 1 + Math.floor(Math.random() * 5);

  const send = (request: v1.ApplyScoreRequest) =>
    new Promise<v1.ApplyScoreResponse>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${options.internalToken}`);
      client.applyScore(request, metadata, { deadline: Date.now() + 60_000 }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });

  const next = (): v1.ApplyScoreRequest => {
    const i = n++;
    const earlier = i % 4 === 3 ? changeable.shift() : undefined;
    if (earlier) {
      const rate = 1 + ((earlier.rate + Math.floor(Math.random() * 4)) % 5); // any rate but the current
      return { ...earlier, version: 2, rate };
    }
    return v1.ApplyScoreRequest.fromPartial({
      scoreId: randomUUID(),
      version: 1,
      eventId: eventIds[Math.floor(Math.random() * eventIds.length)]!,
      userId: `u${i}`,
      rate: randomRate(),
    });
  };

  const sendBatch = (items: v1.ApplyScoreRequest[]) =>
    new Promise<v1.ApplyScoresResponse>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${options.internalToken}`);
      client.applyScores({ items }, metadata, { deadline: Date.now() + 60_000 }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });

  const record = (request: v1.ApplyScoreRequest, response: v1.ApplyScoreResponse | undefined) => {
    if (response?.outcome !== v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_APPLIED) {
      counts.otherOutcomes++;
      return;
    }
    applied.set(request.scoreId, request.rate);
    if (request.version === 1) {
      counts.newApplied++;
      changeable.push(request);
    } else {
      counts.changesApplied++;
    }
  };

  return {
    counts,
    async call() {
      const request = next();
      record(request, await send(request));
    },
    /** One ApplyScores call of `size` items drawn from the same mix as {@link call}. */
    async callBatch(size: number) {
      const items = Array.from({ length: size }, next);
      const { results } = await sendBatch(items);
      items.forEach((item, i) => record(item, results[i]));
    },
    /** What the events' aggregates should add up to: one count per score, its rate in effect. */
    expected() {
      let sum = 0;
      for (const rate of applied.values()) sum += rate;
      return { count: applied.size, sum };
    },
    sampleRequestBytes: () =>
      v1.ApplyScoreRequest.encode(
        v1.ApplyScoreRequest.fromPartial({
          scoreId: randomUUID(),
          version: 1,
          eventId: eventIds[0] ?? 1,
          userId: 'u12345',
          rate: 3,
        }),
      ).finish().length,
  };
}
