/**
 * Broker topics that cross service boundaries. A topic's name and its payload's shape are part of the
 * contract between the services, like the gRPC API: both sides import them from here.
 */

/**
 * line-provider publishes one message here (through its outbox) per change to an event; score-maker
 * consumes it. The payload is the proto3 JSON form of `scoreline.line_provider.v1.EventChanged`: read it
 * with `v1.EventChanged.fromJSON`.
 */
export const EVENT_CHANGED_TOPIC = 'line-provider.event-changed';
