import * as grpc from '@grpc/grpc-js';
import { channelCredentials, health, v1, type ChannelTls } from '@scoreline/contracts';
import { AppError, type Logger, type Metrics } from '@scoreline/platform';
import { clientMetricsInterceptor } from './grpc-client-metrics.js';
import type { EventState, EventsPage, EventView } from '../domain/event-view.js';
import type { ApplyScoreResult, RevertScoreResult } from '../domain/saga.js';
import {
  applyResultFromProto,
  applyResultsFromProto,
  eventFromProto,
  revertResultFromProto,
  revertResultsFromProto,
  stateToProto,
} from './line-provider-mapping.js';

export interface LineProviderClientOptions {
  /** host:port of line-provider's gRPC server. */
  address: string;
  /** Sent as `authorization: Bearer …` on ApplyScore(s) and RevertScore(s). */
  internalToken: string;
  logger: Logger;
  /** Deadline of every call (a batch call gets one per 100 items). Default 2000. */
  callTimeoutMs?: number;
  /** TLS to line-provider (LINE_PROVIDER_TLS* settings); plain text when unset. */
  tls?: ChannelTls;
  /** Where calls are timed (grpc_client_handling_seconds); none when unset. */
  metrics?: Metrics;
}

export interface ApplyScoreItem {
  scoreId: string;
  version: number;
  eventId: number;
  userId: string;
  rate: number;
}

export interface RevertScoreItem {
  scoreId: string;
  version: number;
}

/** The most items line-provider takes in one ApplyScores or RevertScores call. */
export const MAX_SCORE_BATCH = 1000;

/** Items of a batch call per call timeout in its deadline. */
const ITEMS_PER_TIMEOUT = 100;

export interface LineProviderClient {
  /** The event, or null when line-provider does not know it. */
  getEvent(id: number): Promise<EventView | null>;
  listEvents(req: { state?: EventState; pageSize?: number; pageToken?: string }): Promise<EventsPage>;
  applyScore(req: ApplyScoreItem): Promise<ApplyScoreResult>;
  revertScore(req: { scoreId: string; version: number }): Promise<RevertScoreResult>;
  /**
   * ApplyScore for many items in one call and one line-provider transaction: one result per item, in
   * order, each what ApplyScore would have answered (see ApplyScores in the proto). At most
   * {@link MAX_SCORE_BATCH} items; one malformed item refuses the whole call (INVALID_ARGUMENT).
   */
  applyScores(items: readonly ApplyScoreItem[]): Promise<ApplyScoreResult[]>;
  /** RevertScore for many items in one call, as {@link LineProviderClient.applyScores}. */
  revertScores(items: readonly RevertScoreItem[]): Promise<RevertScoreResult[]>;
  /** Resolves when grpc.health.v1.Health/Check of "" answers SERVING; throws otherwise. */
  ping(): Promise<void>;
  close(): void;
}

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void;
type Invoke<Res> = (metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, done: Callback<Res>) => void;

// The saga retries these: the server is down, overloaded, restarting or answered something transient.
const TRANSIENT = new Set<grpc.status>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.CANCELLED,
]);

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Pings an idle connection every 30 s so a peer that vanished without closing the socket (pod killed,
  // NAT or load balancer dropping the flow) is noticed before a call is sent into it and waits out its
  // deadline. line-provider is grpc-js, which accepts such pings; a proxy with a stricter ping policy
  // answers GOAWAY "too_many_pings" and grpc-js then doubles the interval by itself.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  // grpc-js backs reconnects off up to 120 s by default; calls fail fast (UNAVAILABLE) meanwhile, so a
  // line-provider that comes back would stay unused for up to two minutes. 5 s keeps recovery quick.
  'grpc.max_reconnect_backoff_ms': 5_000,
};

/**
 * score-maker's gRPC client of line-provider. One channel carries every call (grpc-js multiplexes them
 * over one HTTP/2 connection), each with a deadline. gRPC errors become AppErrors: UNAVAILABLE for
 * anything worth retrying, INVALID_ARGUMENT and NOT_FOUND as they are, INTERNAL for the rest.
 */
export function createLineProviderClient(options: LineProviderClientOptions): LineProviderClient {
  const { logger } = options;
  const timeoutMs = options.callTimeoutMs ?? 2000;
  const channel = channelCredentials(options.tls);
  const credentials = channel.credentials;
  const interceptors = options.metrics ? [clientMetricsInterceptor(options.metrics)] : [];
  const events = new v1.EventServiceClient(options.address, credentials, {
    ...CHANNEL_OPTIONS,
    ...channel.options,
    interceptors,
  });
  // Shares the events client's channel, so health checks probe the very connection calls use.
  const healthClient = new health.HealthClient(options.address, credentials, {
    channelOverride: events.getChannel(),
    interceptors,
  });

  // A batch's deadline grows with it: one call timeout per ITEMS_PER_TIMEOUT items (so 200 items get
  // two), since a big batch behind others on a hot event's row lock is slow without anything wrong.
  const call = <Res>(method: string, internal: boolean, invoke: Invoke<Res>, items = 1): Promise<Res> =>
    new Promise<Res>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (internal) metadata.set('authorization', `Bearer ${options.internalToken}`);
      const deadline = Date.now() + timeoutMs * Math.max(1, items / ITEMS_PER_TIMEOUT);
      invoke(metadata, { deadline }, (error, response) => {
        if (error) reject(toAppError(error, method, logger));
        else resolve(response);
      });
    });

  return {
    async getEvent(id) {
      checkId('eventId', id);
      const request = v1.GetEventRequest.fromPartial({ eventId: id });
      try {
        const res = await call<v1.GetEventResponse>('GetEvent', false, (m, o, done) =>
          events.getEvent(request, m, o, done),
        );
        return eventFromProto(res.event);
      } catch (error) {
        if (error instanceof AppError && error.code === 'NOT_FOUND') return null;
        throw error;
      }
    },

    async listEvents(req) {
      const request = v1.ListEventsRequest.fromPartial({
        state: req.state === undefined ? v1.EventState.EVENT_STATE_UNSPECIFIED : stateToProto[req.state],
        pageSize: req.pageSize ?? 0,
        pageToken: req.pageToken ?? '',
      });
      const res = await call<v1.ListEventsResponse>('ListEvents', false, (m, o, done) =>
        events.listEvents(request, m, o, done),
      );
      return { events: res.events.map(eventFromProto), nextPageToken: res.nextPageToken };
    },

    async applyScore(req) {
      checkId('version', req.version);
      checkId('eventId', req.eventId);
      const request = v1.ApplyScoreRequest.fromPartial(req);
      const res = await call<v1.ApplyScoreResponse>('ApplyScore', true, (m, o, done) =>
        events.applyScore(request, m, o, done),
      );
      return applyResultFromProto(res);
    },

    async revertScore(req) {
      checkId('version', req.version);
      const request = v1.RevertScoreRequest.fromPartial(req);
      const res = await call<v1.RevertScoreResponse>('RevertScore', true, (m, o, done) =>
        events.revertScore(request, m, o, done),
      );
      return revertResultFromProto(res);
    },

    async applyScores(items) {
      items.forEach((item, i) => {
        checkId(`items[${i}].version`, item.version);
        checkId(`items[${i}].eventId`, item.eventId);
      });
      const request = v1.ApplyScoresRequest.fromPartial({ items: [...items] });
      const res = await call<v1.ApplyScoresResponse>(
        'ApplyScores',
        true,
        (m, o, done) => events.applyScores(request, m, o, done),
        items.length,
      );
      return applyResultsFromProto(res, items.length);
    },

    async revertScores(items) {
      items.forEach((item, i) => checkId(`items[${i}].version`, item.version));
      const request = v1.RevertScoresRequest.fromPartial({ items: [...items] });
      const res = await call<v1.RevertScoresResponse>(
        'RevertScores',
        true,
        (m, o, done) => events.revertScores(request, m, o, done),
        items.length,
      );
      return revertResultsFromProto(res, items.length);
    },

    async ping() {
      const request = health.HealthCheckRequest.fromPartial({ service: '' });
      const res = await call<health.HealthCheckResponse>('Health/Check', false, (m, o, done) =>
        healthClient.check(request, m, o, done),
      );
      if (res.status !== health.HealthCheckResponse_ServingStatus.SERVING) {
        const status = health.healthCheckResponse_ServingStatusToJSON(res.status);
        throw new AppError('UNAVAILABLE', `line-provider reports ${status}`, { details: { status } });
      }
    },

    close() {
      // Closing the events client closes the shared channel, which the health client uses too.
      events.close();
    },
  };
}

/**
 * A non-integer would fail while the request is serialized, which grpc-js reports as INTERNAL, a
 * transient code: the saga would retry a request that can never succeed. Refuse it here instead.
 */
function checkId(field: string, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new AppError('INVALID_ARGUMENT', `${field} must be an integer`, { field });
  }
}

function toAppError(error: grpc.ServiceError, method: string, logger: Logger): AppError {
  const grpcCode = grpc.status[error.code] ?? String(error.code);
  const options = { cause: error, details: { method, grpcCode } };
  const what = `line-provider ${method}`;
  if (TRANSIENT.has(error.code)) return new AppError('UNAVAILABLE', `${what}: ${error.details}`, options);
  switch (error.code) {
    case grpc.status.INVALID_ARGUMENT:
      return new AppError('INVALID_ARGUMENT', `${what}: ${error.details}`, options);
    case grpc.status.NOT_FOUND:
      return new AppError('NOT_FOUND', `${what}: ${error.details}`, options);
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.PERMISSION_DENIED: {
      // Retrying cannot help: score-maker's internal token differs from line-provider's
      // LINE_PROVIDER_INTERNAL_TOKEN. Logged as an error so an operator sees it without a request.
      const message =
        `${what} refused the internal token (${grpcCode}: ${error.details}); ` +
        `score-maker's internal token must equal line-provider's LINE_PROVIDER_INTERNAL_TOKEN`;
      logger.error({ method, grpcCode }, message);
      return new AppError('INTERNAL', message, options);
    }
    default:
      return new AppError('INTERNAL', `${what} failed (${grpcCode}): ${error.details}`, options);
  }
}
