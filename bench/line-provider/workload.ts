import { randomUUID } from 'node:crypto';
import { v1 } from '@scoreline/contracts';
import { grpcCall, INTERNAL_TOKEN } from '../lib/setup.js';

/**
 * The ApplyScore mix: three items in four apply a new score (fresh UUID, version 1, a random event,
 * user u<n>, rate 1–5); every fourth changes a score applied earlier (version 2, another rate).
 * It remembers the rate in effect for each score, so the database's aggregates can be checked after.
 */
export function createApplyWorkload(client: v1.EventServiceClient, eventIds: readonly number[]) {
  const applied = new Map<string, number>(); // score id -> rate in effect
  // Applied at version 1, not changed yet: a queue read from `head`. Not Array.shift(): once the array
  // is large, V8 moves every element on each shift, and the client's CPU per call grew round by round.
  let changeable: v1.ApplyScoreRequest[] = [];
  let head = 0;
  const nextChangeable = () => {
    if (head === changeable.length) return undefined;
    const earlier = changeable[head++];
    if (head >= 4096 && head * 2 >= changeable.length) [changeable, head] = [changeable.slice(head), 0];
    return earlier;
  };
  const counts = { newApplied: 0, changesApplied: 0, otherOutcomes: 0 };
  let n = 0;

  const next = (): v1.ApplyScoreRequest => {
    const i = n++;
    const earlier = i % 4 === 3 ? nextChangeable() : undefined;
    if (earlier) {
      const rate = 1 + ((earlier.rate + Math.floor(Math.random() * 4)) % 5); // any rate but the current
      return { ...earlier, version: 2, rate };
    }
    const eventId = eventIds[Math.floor(Math.random() * eventIds.length)]!;
    const rate = 1 + Math.floor(Math.random() * 5);
    return v1.ApplyScoreRequest.fromPartial({
      scoreId: randomUUID(),
      version: 1,
      eventId,
      userId: `u${i}`,
      rate,
    });
  };

  const record = (request: v1.ApplyScoreRequest, response: v1.ApplyScoreResponse | undefined) => {
    if (response?.outcome !== v1.ApplyScoreOutcome.APPLY_SCORE_OUTCOME_APPLIED)
      return void counts.otherOutcomes++;
    applied.set(request.scoreId, request.rate);
    if (request.version === 1) {
      counts.newApplied++;
      changeable.push(request);
    } else counts.changesApplied++;
  };

  return {
    counts,
    async call() {
      const request = next();
      record(
        request,
        await grpcCall(INTERNAL_TOKEN, (m, o, cb) => client.applyScore(request, m, o, cb), 60_000),
      );
    },
    /** One ApplyScores call of `size` items drawn from the same mix as {@link call}. */
    async callBatch(size: number) {
      const items = Array.from({ length: size }, next);
      const { results } = await grpcCall<v1.ApplyScoresResponse>(
        INTERNAL_TOKEN,
        (m, o, cb) => client.applyScores({ items }, m, o, cb),
        60_000,
      );
      items.forEach((item, i) => record(item, results[i]));
    },
    /** What the events' aggregates should add up to: one count per score, its rate in effect. */
    expected() {
      return { count: applied.size, sum: [...applied.values()].reduce((a, b) => a + b, 0) };
    },
    requestBytes: () => v1.ApplyScoreRequest.encode({ ...next(), userId: 'u12345' }).finish().length,
  };
}
