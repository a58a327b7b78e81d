import { z } from 'zod';

/**
 * Building blocks for configuration schemas. Each one says in its error what it expects, so that
 * `loadConfig` can print "VAR: expected …" and stop.
 */
export const env = {
  string: (fallback?: string) =>
    fallback === undefined
      ? z.string({ error: 'expected a non-empty string' }).min(1, 'expected a non-empty string')
      : z.string().min(1, 'expected a non-empty string').default(fallback),

  /** A secret: at least `minLength` characters, never echoed back in errors. */
  secret: (minLength = 16) =>
    z
      .string({ error: `expected a secret of at least ${minLength} characters` })
      .min(minLength, `expected a secret of at least ${minLength} characters`),

  integer: (fallback: number, range: { min?: number; max?: number } = {}) => {
    const min = range.min ?? Number.MIN_SAFE_INTEGER;
    const max = range.max ?? Number.MAX_SAFE_INTEGER;
    const expectation = `expected an integer between ${min} and ${max}`;
    return z
      .string()
      .regex(/^-?\d+$/, expectation)
      .transform(Number)
      .pipe(z.number().int().min(min, expectation).max(max, expectation))
      .default(fallback);
  },

  port: (fallback: number) =>
    z
      .string()
      .regex(/^\d+$/, 'expected a TCP port (0-65535)')
      .transform(Number)
      .pipe(
        z.number().int().min(0, 'expected a TCP port (0-65535)').max(65535, 'expected a TCP port (0-65535)'),
      )
      .default(fallback),

  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),

  /** A duration in milliseconds, written as `250`, `250ms`, `30s`, `5m` or `24h`. */
  duration: (fallback: string) =>
    z
      .string()
      .transform((value, ctx) => {
        const ms = parseDuration(value);
        if (ms === undefined) {
          ctx.addIssue({ code: 'custom', message: 'expected a duration such as 500ms, 30s, 5m or 24h' });
          return z.NEVER;
        }
        return ms;
      })
      .default(parseDuration(fallback) ?? 0),

  url: (protocols: readonly string[], fallback?: string) => {
    const expectation = `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
    const schema = z.string({ error: expectation }).refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, expectation);
    return fallback === undefined ? schema : schema.default(fallback);
  },

  enum: <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
    z.enum(values, { error: `expected one of ${values.join(', ')}` }).default(fallback as never),

  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
};

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (units[match[2] ?? 'ms'] ?? 1));
}
