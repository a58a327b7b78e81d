import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { legacy } from '@scoreline/contracts';
import type { Logger } from '@scoreline/platform';
import { acceptsScores, deriveStatus, type Event } from '../../domain/event.js';
import { isPositiveId, isRate } from '../../domain/score-input.js';
import type { EventUseCases } from '../../use-cases/events.js';
import type { ScoreUseCases } from '../../use-cases/scores.js';
import { requireRole, type Tokens } from './auth.js';
import { unary } from './grpc-errors.js';

/** Who a legacy score counts as: one anonymous score each, kept apart from score-maker's users. */
export const LEGACY_USER = 'legacy:anonymous';

const legacyStatus = {
  PROCESSING: legacy.StatusEnum.STATUS_PROCESSING,
  LOW_SCORE: legacy.StatusEnum.STATUS_LOW_SCORE,
  HIGH_SCORE: legacy.StatusEnum.STATUS_HIGH_SCORE,
} as const;

function toLegacy(event: Event): legacy.Event {
  return {
    eventId: event.id,
    deadline: event.deadline,
    status: legacyStatus[deriveStatus(event.aggregates)],
  };
}

/**
 * The original system's package-less EventService, unchanged on the wire. GetEvents lists the events
 * open for scoring; UpdateEventStatusByScore applies one anonymous score through the same ledger as
 * ApplyScore (a fresh score id, version 1), so legacy scores move the aggregates exactly as others do.
 * Its event id is int32 on the wire, so events past 2^31 are not reachable through it.
 */
export function createLegacyService(deps: {
  events: EventUseCases;
  scores: ScoreUseCases;
  tokens: Tokens;
  requireToken: boolean;
  logger: Logger;
}): legacy.EventServiceServer {
  const { events, scores, logger } = deps;
  const guard = (metadata: grpc.Metadata) => {
    if (deps.requireToken) requireRole(metadata, 'internal', deps.tokens);
  };

  return {
    getEvents: unary(logger, 'GetEvents', async (_req: legacy.GetEventsRequest, metadata) => {
      guard(metadata);
      const open: Event[] = [];
      let pageToken = '';
      do {
        const page = await events.list({ state: 'OPEN', pageSize: 500, pageToken });
        open.push(...page.events.filter((e) => e.deadline.getTime() > Date.now()));
        pageToken = page.nextPageToken;
      } while (pageToken);
      return { events: open.map(toLegacy) };
    }),

    updateEventStatusByScore: unary(
      logger,
      'UpdateEventStatusByScore',
      async (req: legacy.UpdateEventStatusByScoreRequest, metadata) => {
        guard(metadata);
        // The original answered success: false for anything it could not apply; so does this.
        if (!isPositiveId(req.eventId) || !isRate(req.score)) return { success: false };
        // Check first so that a call for an unknown or closed event writes nothing at all; the ledger
        // checks again under the event's lock.
        const event = await events.get(req.eventId).catch(() => undefined);
        if (!event || !acceptsScores(event, new Date())) return { success: false };
        const result = await scores.applyScore({
          scoreId: randomUUID(),
          version: 1,
          eventId: req.eventId,
          userId: LEGACY_USER,
          rate: req.score,
        });
        return { success: result.outcome === 'APPLIED' };
      },
    ),
  };
}
