import type * as grpc from '@grpc/grpc-js';
import type { v1 } from '@scoreline/contracts';
import type { Logger } from '@scoreline/platform';
import type { OutboxStatus } from '../../data-access/outbox-status.js';
import type { EventUseCases } from '../../use-cases/events.js';
import type { ScoreUseCases } from '../../use-cases/scores.js';
import { requireRole, type Tokens } from './auth.js';
import {
  applyResultToProto,
  eventToProto,
  ledgerToProto,
  revertResultToProto,
  stateFromProto,
} from './event-mapping.js';
import { unary } from './grpc-errors.js';

/** scoreline.line_provider.v1.EventService: reads are open, admin and internal calls need their token. */
export function createEventService(deps: {
  events: EventUseCases;
  scores: ScoreUseCases;
  tokens: Tokens;
  logger: Logger;
  /** The outbox backlog (GetOutboxStatus). */
  outboxStatus: () => Promise<OutboxStatus>;
}): v1.EventServiceServer {
  const { events, scores, tokens, logger } = deps;
  const admin = (metadata: grpc.Metadata) => requireRole(metadata, 'admin', tokens);

  return {
    listEvents: unary(logger, 'ListEvents', async (req: v1.ListEventsRequest) => {
      const page = await events.list({
        state: stateFromProto(req.state),
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { events: page.events.map(eventToProto), nextPageToken: page.nextPageToken };
    }),

    getEvent: unary(logger, 'GetEvent', async (req: v1.GetEventRequest) => ({
      event: eventToProto(await events.get(req.eventId)),
    })),

    createEvent: unary(logger, 'CreateEvent', async (req: v1.CreateEventRequest, metadata) => {
      admin(metadata);
      return { event: eventToProto(await events.create({ title: req.title, deadline: req.deadline })) };
    }),

    updateEvent: unary(logger, 'UpdateEvent', async (req: v1.UpdateEventRequest, metadata) => {
      admin(metadata);
      const event = await events.update({
        id: req.eventId,
        title: req.title,
        deadline: req.deadline,
        expectedVersion: req.expectedVersion,
      });
      return { event: eventToProto(event) };
    }),

    closeEvent: unary(logger, 'CloseEvent', async (req: v1.CloseEventRequest, metadata) => {
      admin(metadata);
      return { event: eventToProto(await events.close(req.eventId)) };
    }),

    cancelEvent: unary(logger, 'CancelEvent', async (req: v1.CancelEventRequest, metadata) => {
      admin(metadata);
      return { event: eventToProto(await events.cancel(req.eventId, req.reason)) };
    }),

    getOutboxStatus: unary(logger, 'GetOutboxStatus', async (_req: v1.GetOutboxStatusRequest, metadata) => {
      admin(metadata);
      const status = await deps.outboxStatus();
      return { unpublished: status.unpublished, lagSeconds: status.lagSeconds };
    }),

    getScoreLedger: unary(logger, 'GetScoreLedger', async (req: v1.GetScoreLedgerRequest, metadata) => {
      admin(metadata);
      return ledgerToProto(await scores.ledger(req.scoreId));
    }),

    applyScore: unary(logger, 'ApplyScore', async (req: v1.ApplyScoreRequest, metadata) => {
      requireRole(metadata, 'internal', tokens);
      return applyResultToProto(await scores.applyScore(req));
    }),

    revertScore: unary(logger, 'RevertScore', async (req: v1.RevertScoreRequest, metadata) => {
      requireRole(metadata, 'internal', tokens);
      return revertResultToProto(await scores.revertScore(req));
    }),

    applyScores: unary(logger, 'ApplyScores', async (req: v1.ApplyScoresRequest, metadata) => {
      requireRole(metadata, 'internal', tokens);
      return { results: (await scores.applyScores(req.items)).map(applyResultToProto) };
    }),

    revertScores: unary(logger, 'RevertScores', async (req: v1.RevertScoresRequest, metadata) => {
      requireRole(metadata, 'internal', tokens);
      return { results: (await scores.revertScores(req.items)).map(revertResultToProto) };
    }),
  };
}
