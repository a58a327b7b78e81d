import type { Logger } from 'pino';
import type { Broker } from './broker.js';
import { createMemoryBroker } from './memory-broker.js';
import { createRedisBroker } from './redis-broker.js';

export interface BrokerSettings {
  /** `redis://…` (or `rediss://…`) for Redis Streams; `memory://` for the in-process broker. */
  url: string;
  logger: Logger;
  prefix?: string;
  /** Redis only: how long a dead consumer's messages stay its own, and how often they are looked for. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export function openBroker(settings: BrokerSettings): Broker {
  if (settings.url.startsWith('memory:')) return createMemoryBroker({ logger: settings.logger });
  return createRedisBroker({
    url: settings.url,
    logger: settings.logger,
    prefix: settings.prefix,
    lockDurationMs: settings.lockDurationMs,
    stalledIntervalMs: settings.stalledIntervalMs,
  });
}
