import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { envInfoOf, readsFromFile } from './env.js';

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
 * A secret or URL setting may instead be read from the file `<NAME>_FILE` names (Docker and
 * Kubernetes secrets); setting both is an error.
 * This is the only place in the code base that reads `process.env`.
 */
export function loadConfig<S extends z.ZodRawShape>(
  schema: S,
  options: LoadConfigOptions = {},
): Readonly<z.infer<z.ZodObject<S>>> {
  const fromFile = options.envFile === false ? {} : readEnvFile(options.envFile ?? '.env');
  // eslint-disable-next-line no-restricted-properties -- the single sanctioned reader of process.env
  const env = { ...fromFile, ...(options.env ?? process.env) };
  const input: Record<string, string | undefined> = {};
  /** Settings whose value came from `<NAME>_FILE`, and those whose file could not be used. */
  const readFrom = new Map<string, string>();
  const problems: string[] = [];
  for (const [key, setting] of Object.entries(schema)) {
    const value = unsetIfEmpty(env[key]);
    const fileVariable = `${key}_FILE`;
    const file = readsFromFile(envInfoOf(setting as z.ZodType)) ? unsetIfEmpty(env[fileVariable]) : undefined;
    if (file === undefined) {
      input[key] = value;
    } else if (value !== undefined) {
      problems.push(`${key}: set either ${key} or ${fileVariable}, not both`);
    } else {
      try {
        // One value per file; the newline most tools write after it is not part of it.
        input[key] = unsetIfEmpty(readFileSync(file, 'utf8').replace(/[\r\n]+$/, ''));
        readFrom.set(key, fileVariable);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        problems.push(`${fileVariable}: cannot read ${JSON.stringify(file)} (${code})`);
      }
    }
  }
  const result = z.object(schema).safeParse(input);
  const failed = new Set(problems.map((p) => p.slice(0, p.indexOf(':')).replace(/_FILE$/, '')));
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = issue.path.join('.') || '(config)';
      const key = String(issue.path[0]);
      if (failed.has(key)) continue;
      const raw = input[key];
      const file = readFrom.get(key);
      const got =
        file !== undefined
          ? raw === undefined
            ? `${file} names an empty file`
            : `read from ${file}: ${JSON.stringify(shown(name, raw, true))}`
          : raw === undefined
            ? 'it is not set'
            : `got ${JSON.stringify(shown(name, raw))}`;
      problems.push(`${name}: ${issue.message} (${got})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result.data!);
}

/** Most deployment tools write `VAR=` for "no value": an empty string counts as unset. */
function unsetIfEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

/** Values that may be secrets are never echoed back; URLs lose their passwords. */
function shown(name: string, value: string, fromFile = false): string {
  if (fromFile || /TOKEN|SECRET|PASSWORD|KEY/i.test(name)) return `<${value.length} characters, hidden>`;
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
