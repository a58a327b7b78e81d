import type { Logger } from '../logger.js';

/** Named checks of a process's dependencies; each resolves when its dependency answers. */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

export interface ReadinessProbe {
  /** True when every check answered. */
  ready: boolean;
  /** Each check's state by name; a response shows these and never the causes. */
  checks: Record<string, 'ok' | 'failing'>;
}

export interface ProbeOptions {
  /** A check that has not answered by then fails. Unset: each check is awaited as long as it takes. */
  timeoutMs?: number;
  /** Where each failing check's cause is logged (warn). */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * Runs every check at once: the one readiness probe behind /readyz (HTTP API, worker, line-provider)
 * and gRPC health. A check that throws, or does not answer within `timeoutMs`, is 'failing'.
 */
export async function probeReadiness(
  checks: ReadinessChecks,
  options: ProbeOptions = {},
): Promise<ReadinessProbe> {
  const { timeoutMs, logger } = options;
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const answered = check();
        await (timeoutMs === undefined
          ? answered
          : Promise.race([
              answered,
              new Promise((_, reject) => {
                timer = setTimeout(
                  () => reject(new Error(`no answer in ${timeoutMs} ms`)),
                  timeoutMs,
                ).unref();
              }),
            ]));
        return [name, 'ok'] as const;
      } catch (error) {
        logger?.warn({ err: error, check: name }, 'readiness check failed');
        return [name, 'failing'] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
}
