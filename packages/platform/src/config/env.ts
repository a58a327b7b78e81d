import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** What a variable built by `env` accepts, for the configuration reference (docs/configuration.md). */
export interface EnvInfo {
  kind: 'string' | 'secret' | 'integer' | 'port' | 'boolean' | 'duration' | 'url' | 'enum' | 'file';
  /** The accepted values in words, e.g. "an integer from 1 to 200". */
  accepts: string;
}

/**
 * Each helper's schema, registered with what it accepts (registering changes nothing about parsing).
 * Wrappers a schema adds (`.optional()`, another `.default()`) keep it as their inner type, where
 * scripts/docs finds it.
 */
export const envInfo = z.registry<EnvInfo>();

/**
 * Building blocks for configuration schemas. Each one says in its error what it expects, so that
 * `loadConfig` can print "VAR: expected …" and stop.
 */
export const env = {
  string: (fallback?: string) =>
    fallback === undefined
      ? z
          .string({ error: 'expected a non-empty string' })
          .min(1, 'expected a non-empty string')
          .register(envInfo, { kind: 'string', accepts: 'a non-empty string' })
      : z
          .string()
          .min(1, 'expected a non-empty string')
          .default(fallback)
          .register(envInfo, { kind: 'string', accepts: 'a non-empty string' }),

  /** A secret: at least `minLength` characters, never echoed back in errors. */
  secret: (minLength = 16) =>
    z
      .string({ error: `expected a secret of at least ${minLength} characters` })
      .min(minLength, `expected a secret of at least ${minLength} characters`)
      .register(envInfo, { kind: 'secret', accepts: `a secret of at least ${minLength} characters` }),

  integer: (fallback: number, range: { min?: number; max?: number } = {}) => {
    const min = range.min ?? Number.MIN_SAFE_INTEGER;
    const max = range.max ?? Number.MAX_SAFE_INTEGER;
    const expectation = `expected an integer between ${min} and ${max}`;
    return z
      .string()
      .regex(/^-?\d+$/, expectation)
      .transform(Number)
      .pipe(z.number().int().min(min, expectation).max(max, expectation))
      .default(fallback)
      .register(envInfo, { kind: 'integer', accepts: `an integer from ${min} to ${max}` });
  },

  port: (fallback: number) =>
    z
      .string()
      .regex(/^\d+$/, 'expected a TCP port (0-65535)')
      .transform(Number)
      .pipe(
        z.number().int().min(0, 'expected a TCP port (0-65535)').max(65535, 'expected a TCP port (0-65535)'),
      )
      .default(fallback)
      .register(envInfo, { kind: 'port', accepts: 'a TCP port, 0 to 65535' }),

  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback)
      .register(envInfo, { kind: 'boolean', accepts: 'true or false (or 1/0, yes/no)' }),

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
      .default(parseDuration(fallback) ?? 0)
      .register(envInfo, {
        kind: 'duration',
        accepts: 'a duration such as 500ms, 30s, 5m or 24h (a bare number is milliseconds)',
      }),

  url: (protocols: readonly string[], fallback?: string) => {
    const expectation = `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
    const schema = z.string({ error: expectation }).refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, expectation);
    const info = { kind: 'url', accepts: expectation.replace('expected ', '') } as const;
    return fallback === undefined
      ? schema.register(envInfo, info)
      : schema.default(fallback).register(envInfo, info);
  },

  /**
   * The path of a file the process reads (a PEM certificate or key). Checked when the configuration
   * is loaded, so that a missing or unreadable file stops the process naming the setting.
   */
  file: () =>
    z
      .string({ error: 'expected the path of a readable file' })
      .min(1, 'expected the path of a readable file')
      .superRefine((path, ctx) => {
        try {
          readFileSync(path);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
          ctx.addIssue({ code: 'custom', message: `expected the path of a readable file (${code})` });
        }
      })
      .register(envInfo, { kind: 'file', accepts: 'the path of a readable file' }),

  enum: <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
    z
      .enum(values, { error: `expected one of ${values.join(', ')}` })
      .default(fallback as never)
      .register(envInfo, { kind: 'enum', accepts: `one of ${values.join(', ')}` }),

  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info')
      .register(envInfo, { kind: 'enum', accepts: 'one of fatal, error, warn, info, debug, trace, silent' }),
};

/**
 * Settings that may also be read from a file named by `<NAME>_FILE` (the Docker and Kubernetes
 * secrets convention): secrets, and URLs, which may carry a password.
 */
export function readsFromFile(info: EnvInfo | undefined): boolean {
  return info?.kind === 'secret' || info?.kind === 'url';
}

/** The `env` helper's registration under a schema's `.optional()` and `.default()` wrappers. */
export function envInfoOf(schema: z.ZodType): EnvInfo | undefined {
  let current: z.ZodType | undefined = schema;
  while (current) {
    const info = envInfo.get(current);
    if (info) return info;
    current = (current.def as { innerType?: z.ZodType }).innerType;
  }
  return undefined;
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (units[match[2] ?? 'ms'] ?? 1));
}
