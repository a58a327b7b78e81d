import { join } from 'node:path';
import type { z } from 'zod';
import { envInfo, type EnvInfo } from '@scoreline/platform';
import { envSettingsIn, schemaSettings, type SourceSetting } from './doc-comments.js';
import { processSources, type ProcessSource } from './config-sources.js';
import { staticSchema } from './static-schema.js';

/** What one process makes of one variable. */
export interface Reading {
  process: ProcessSource;
  /** The default as it would be written in the environment; undefined when there is none. */
  fallback?: string;
  /** Unset is an error. */
  required: boolean;
  accepts: string;
  kind: EnvInfo['kind'];
  /** The doc comment in this process's schema, or else another reader's. */
  description: string;
  schema: z.ZodType;
}

export interface Variable {
  name: string;
  readings: Reading[];
}

/** Milliseconds back to the shortest way of writing them (30000 → 30s). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A default as one would write it in the environment. */
function written(value: unknown, kind: EnvInfo['kind']): string {
  if (kind === 'duration' && typeof value === 'number') return formatDuration(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

interface Shape {
  info: EnvInfo;
  fallback?: unknown;
  optional: boolean;
}

/** Unwraps `.default()` and `.optional()` down to the `env` helper's schema; the outermost default wins. */
function shapeOf(name: string, schema: z.ZodType): Shape {
  let current: z.ZodType = schema;
  let fallback: { value: unknown } | undefined;
  let optional = false;
  for (;;) {
    const info = envInfo.get(current);
    const def = current.def as { type: string; innerType?: z.ZodType; defaultValue?: unknown };
    if (def.type === 'default' && !fallback) fallback = { value: def.defaultValue };
    if (def.type === 'optional') optional = true;
    if (info) return { info, fallback: fallback?.value, optional };
    if (!def.innerType) throw new Error(`${name}: not built with the env helpers (@scoreline/platform)`);
    current = def.innerType;
  }
}

function settingsOf(source: ProcessSource, root: string): { setting: SourceSetting; schema: z.ZodType }[] {
  const file = join(root, source.file);
  if (!source.schemas) {
    return envSettingsIn(file).map((setting) => ({ setting, schema: staticSchema(setting) }));
  }
  return source.schemas.flatMap(({ constName, shape }) => {
    const settings = schemaSettings(file, constName);
    const names = Object.keys(shape);
    const written = [...settings.keys()];
    if (names.join() !== written.join()) {
      throw new Error(
        `${source.file}: ${constName} reads ${names.join()} but its source lists ${written.join()}`,
      );
    }
    return names.map((name) => ({ setting: settings.get(name)!, schema: shape[name] as z.ZodType }));
  });
}

/** Every variable any process reads, in the order of first appearance. */
export function buildConfigModel(root: string): Variable[] {
  const variables = new Map<string, Variable>();
  const comments = new Map<Reading, string | undefined>();
  for (const source of processSources) {
    for (const { setting, schema } of settingsOf(source, root)) {
      const { info, fallback, optional } = shapeOf(setting.name, schema);
      const reading: Reading = {
        process: source,
        fallback: fallback === undefined ? undefined : written(fallback, info.kind),
        required: fallback === undefined && !optional,
        accepts: info.accepts,
        kind: info.kind,
        description: '',
        schema,
      };
      comments.set(reading, setting.comment);
      const variable = variables.get(setting.name) ?? { name: setting.name, readings: [] };
      variable.readings.push(reading);
      variables.set(setting.name, variable);
    }
  }
  for (const variable of variables.values()) {
    const first = variable.readings.map((r) => comments.get(r)).find((c) => c !== undefined);
    if (first === undefined) {
      const files = [...new Set(variable.readings.map((r) => r.process.file))].join(', ');
      throw new Error(`${variable.name} has no description: give it a /** doc comment */ in ${files}`);
    }
    for (const reading of variable.readings) reading.description = comments.get(reading) ?? first;
  }
  return [...variables.values()];
}
