import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';

export type Env = Readonly<Record<string, string | undefined>>;

/** A configuration value was missing or malformed; the message names every variable at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadConfigOptions {
  /** The environment to read; defaults to the process environment. */
  env?: Env;
  /**
   * An optional dotenv file. Variables already set in `env` win over the file, so a deployment can
   * always override what a checked-out `.env` says. A missing file is not an error.
   */
  envFile?: string | false;
}

/**
 * Reads the environment (and an optional `.env`) once, validates it against `schema` and returns a
 * frozen, typed object. Schemas are keyed by variable name so an error can name the variable.
 * This is the only place in the code base that reads `process.env`.
 */
export function loadConfig<S extends z.ZodRawShape>(
  schema: S,
  options: LoadConfigOptions = {},
): Readonly<z.infer<z.ZodObject<S>>> {
  const fromFile = options.envFile === false ? {} : readEnvFile(options.envFile ?? '.env');
  // eslint-disable-next-line no-restricted-properties -- the single sanctioned reader of process.env
  const env = { ...fromFile, ...(options.env ?? process.env) };
  // Treat empty strings as unset, as most deployment tools write `VAR=` for "no value".
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema)) {
    const value = env[key];
    input[key] = value === '' ? undefined : value;
  }
  const result = z.object(schema).safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(config)';
      const raw = input[String(issue.path[0])];
      const got = raw === undefined ? 'it is not set' : `got ${JSON.stringify(shown(name, raw))}`;
      return `${name}: ${issue.message} (${got})`;
    });
    throw new ConfigError(problems);
  }
  return Object.freeze(result.data);
}

/** Values that may be secrets are never echoed back; URLs lose their passwords. */
function shown(name: string, value: string): string {
  if (/TOKEN|SECRET|PASSWORD|KEY/i.test(name)) return `<${value.length} characters, hidden>`;
  try {
    const url = new URL(value);
    if (url.password) {
      url.password = '***';
      return url.toString();
    }
  } catch {
    // not a URL: shown as it is
  }
  return value;
}

function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  return parseEnv(text) as Record<string, string>;
}
