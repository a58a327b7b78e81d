import { AppError, type Database } from '@scoreline/platform';
import {
  acceptsScores,
  checkDeadline,
  checkTitle,
  hasNul,
  type Event,
  type EventState,
} from '../domain/event.js';
import { isPositiveId } from '../domain/score-input.js';
import type { EventRepository } from '../data-access/event-repository.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
const CANCEL_REASON_MAX = 500;

export interface Page {
  events: Event[];
  nextPageToken: string;
}

function requireId(id: number): void {
  if (!isPositiveId(id))
    throw new AppError('INVALID_ARGUMENT', 'event_id must be an integer >= 1', { field: 'event_id' });
}

function orThrow(violation: { field: string; message: string } | undefined): void {
  if (violation) throw new AppError('INVALID_ARGUMENT', violation.message, { field: violation.field });
}

/** Page tokens are opaque to clients: base64url of the last id seen, versioned to allow change. */
export function encodePageToken(lastId: number): string {
  return Buffer.from(`v1:${lastId}`).toString('base64url');
}

export function decodePageToken(token: string): number {
  if (token === '') return 0;
  const match = /^v1:(\d{1,15})$/.exec(Buffer.from(token, 'base64url').toString());
  if (!match)
    throw new AppError('INVALID_ARGUMENT', 'page_token is not one this service issued', {
      field: 'page_token',
    });
  return Number(match[1]);
}

export function createEventUseCases(deps: { db: Database; events: EventRepository; now?: () => Date }) {
  const { db, events } = deps;
  const now = deps.now ?? (() => new Date());

  const load = async (tx: Parameters<EventRepository['get']>[0], id: number) => {
    const event = await events.get(tx, id, { forUpdate: true });
    if (!event) throw new AppError('NOT_FOUND', `event ${id} not found`, { field: 'event_id' });
    return event;
  };

  return {
    async create(input: { title: string; deadline: Date | undefined }): Promise<Event> {
      orThrow(checkTitle(input.title));
      orThrow(checkDeadline(input.deadline, now()));
      return db.transaction((tx) =>
        events.insert(tx, { title: input.title.trim(), deadline: input.deadline! }),
      );
    },

    async get(id: number): Promise<Event> {
      requireId(id);
      const event = await events.get(db, id);
      if (!event) throw new AppError('NOT_FOUND', `event ${id} not found`, { field: 'event_id' });
      return event;
    },

    async list(input: { state?: EventState; pageSize: number; pageToken: string }): Promise<Page> {
      if (!Number.isInteger(input.pageSize) || input.pageSize < 0) {
        throw new AppError('INVALID_ARGUMENT', 'page_size must be >= 0', { field: 'page_size' });
      }
      const limit = Math.min(input.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
      const afterId = decodePageToken(input.pageToken);
      // One extra row tells whether another page exists without a count query.
      const rows = await events.list(db, { state: input.state, afterId, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { events: page, nextPageToken: rows.length > limit && last ? encodePageToken(last.id) : '' };
    },

    async update(input: {
      id: number;
      title?: string;
      deadline?: Date;
      expectedVersion: number;
    }): Promise<Event> {
      requireId(input.id);
      if (input.title === undefined && input.deadline === undefined) {
        throw new AppError('INVALID_ARGUMENT', 'give a title, a deadline or both', { field: 'title' });
      }
      if (input.title !== undefined) orThrow(checkTitle(input.title));
      if (input.deadline !== undefined) orThrow(checkDeadline(input.deadline, now()));
      if (!Number.isInteger(input.expectedVersion) || input.expectedVersion < 0) {
        throw new AppError('INVALID_ARGUMENT', 'expected_version must be >= 0', {
          field: 'expected_version',
        });
      }
      return db.transaction(async (tx) => {
        const event = await load(tx, input.id);
        if (!acceptsScores(event, now())) {
          throw new AppError(
            'FAILED_PRECONDITION',
            `event ${event.id} is ${event.state === 'OPEN' ? 'past its deadline' : event.state}; only open events can change`,
          );
        }
        if (input.expectedVersion !== 0 && input.expectedVersion !== event.version) {
          throw new AppError(
            'ABORTED',
            `event ${event.id} is at version ${event.version}, not ${input.expectedVersion}`,
          );
        }
        return events.update(tx, event.id, { title: input.title?.trim(), deadline: input.deadline });
      });
    },

    /** Idempotent: closing a closed event returns it unchanged. */
    async close(id: number): Promise<Event> {
      requireId(id);
      return db.transaction(async (tx) => {
        const event = await load(tx, id);
        if (event.state === 'CLOSED') return event;
        if (event.state === 'CANCELLED')
          throw new AppError('FAILED_PRECONDITION', `event ${id} is cancelled`);
        return events.setState(tx, id, 'CLOSED');
      });
    },

    /** Idempotent: cancelling a cancelled event returns it unchanged. */
    async cancel(id: number, reason: string): Promise<Event> {
      requireId(id);
      if ([...reason].length > CANCEL_REASON_MAX) {
        throw new AppError('INVALID_ARGUMENT', `reason must be at most ${CANCEL_REASON_MAX} characters`, {
          field: 'reason',
        });
      }
      if (hasNul(reason)) {
        throw new AppError('INVALID_ARGUMENT', 'reason must not contain NUL characters', { field: 'reason' });
      }
      return db.transaction(async (tx) => {
        const event = await load(tx, id);
        if (event.state === 'CANCELLED') return event;
        if (event.state === 'CLOSED') throw new AppError('FAILED_PRECONDITION', `event ${id} is closed`);
        return events.setState(tx, id, 'CANCELLED', reason || undefined);
      });
    },

    /** One round of the deadline closer; returns the events it closed. */
    async closeDue(limit = 100): Promise<Event[]> {
      return db.transaction((tx) => events.closeDue(tx, limit));
    },
  };
}

export type EventUseCases = ReturnType<typeof createEventUseCases>;
