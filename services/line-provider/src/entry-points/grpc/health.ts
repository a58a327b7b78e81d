import * as grpc from '@grpc/grpc-js';
import { health } from '@scoreline/contracts';
import { probeReadiness, type ReadinessChecks } from '@scoreline/platform';

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = health.HealthCheckResponse_ServingStatus;
type Status = health.HealthCheckResponse_ServingStatus;
type Watcher = {
  service: string;
  sent?: Status;
  call: grpc.ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>;
};

export interface HealthOptions {
  /** How often the checks run, and how old their last answer may be when a Check arrives. Default 2000. */
  intervalMs?: number;
  /** A probe that takes longer counts as failed. Default: `intervalMs`. */
  timeoutMs?: number;
}

export interface Health {
  /** Serves grpc.health.v1.Health on `server` for the overall status ("") and `serviceNames`. */
  addTo(server: grpc.Server, serviceNames: string[]): void;
  /** Starts probing every `intervalMs` (timers unref'd, so they never keep the process alive). */
  start(): void;
  /** Stops probing, reports NOT_SERVING and ends every Watch stream. */
  stop(): void;
  /** Reports NOT_SERVING from now on, whatever the checks say (graceful shutdown). */
  setNotServing(): void;
}

/**
 * gRPC health checking (grpc.health.v1.Health: Check, List, Watch). Every service reports SERVING only
 * while every check (e.g. a database ping) last answered in time and setNotServing() was not called.
 * Check of a service not named in addTo answers NOT_FOUND; Watch of one streams SERVICE_UNKNOWN.
 */
export function createHealth(checks: ReadinessChecks, options: HealthOptions = {}): Health {
  const intervalMs = options.intervalMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? intervalMs;
  const known = new Set<string>(['']);
  const watchers = new Set<Watcher>();
  let healthy = false;
  let probedAt = Number.NEGATIVE_INFINITY;
  let probing: Promise<void> | undefined;
  let notServing = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const statusOf = (service: string): Status =>
    !known.has(service) ? SERVICE_UNKNOWN : healthy && !notServing ? SERVING : NOT_SERVING;

  const send = (watcher: Watcher) => {
    const status = statusOf(watcher.service);
    if (status === watcher.sent) return;
    watcher.sent = status;
    watcher.call.write({ status });
  };
  const publish = () => watchers.forEach(send);

  // One probe at a time: a Check arriving while one runs waits for it instead of starting another.
  const probe = (): Promise<void> =>
    (probing ??= (async () => {
      healthy = (await probeReadiness(checks, { timeoutMs })).ready;
      probedAt = Date.now();
      probing = undefined;
      publish();
    })());

  const fresh = (): Promise<void> =>
    notServing || Date.now() - probedAt < intervalMs ? Promise.resolve() : probe();

  const service: health.HealthServer = {
    check(call, callback) {
      const name = call.request.service;
      if (!known.has(name)) {
        // The name is echoed only in part: the details travel in a trailer, and one of hundreds of
        // kilobytes is more than the client takes, which leaves its call hanging.
        const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(shown)}` });
        return;
      }
      void fresh().then(() => callback(null, { status: statusOf(name) }));
    },
    list(_call, callback) {
      void fresh().then(() =>
        callback(null, {
          statuses: Object.fromEntries([...known].map((name) => [name, { status: statusOf(name) }])),
        }),
      );
    },
    watch(call) {
      const watcher: Watcher = { service: call.request.service, call };
      if (stopped) {
        call.write({ status: statusOf(watcher.service) });
        call.end();
        return;
      }
      watchers.add(watcher);
      call.on('cancelled', () => watchers.delete(watcher));
      void fresh().then(() => watchers.has(watcher) && send(watcher));
    },
  };

  return {
    addTo(server, serviceNames) {
      for (const name of serviceNames) known.add(name);
      server.addService(health.HealthService, service);
    },
    start() {
      if (timer !== undefined || stopped) return;
      void probe();
      timer = setInterval(() => void probe(), intervalMs).unref();
    },
    stop() {
      clearInterval(timer);
      stopped = true;
      notServing = true;
      publish();
      for (const watcher of watchers) watcher.call.end();
      watchers.clear();
    },
    setNotServing() {
      notServing = true;
      publish();
    },
  };
}
