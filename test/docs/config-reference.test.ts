import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseEnv } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { buildConfigModel } from '../../scripts/docs/config-model.js';
import { renderConfigFiles, root } from '../../scripts/docs/config-reference.js';
import { envSettingsIn } from '../../scripts/docs/doc-comments.js';

const variables = buildConfigModel(root);
const known = new Set(variables.map((v) => v.name));

/** Source files that may declare settings: everything but tests, generated code and dependencies. */
function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return ['node_modules', 'gen', 'test', '.data'].includes(entry.name) ? [] : sourceFiles(path);
    }
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the configuration reference', () => {
  it('when the schemas are rendered, then docs/configuration.md and .env.example match them', async () => {
    for (const [path, text] of Object.entries(await renderConfigFiles())) {
      const current = readFileSync(join(root, path), 'utf8');
      // toBe prints a diff; the message says how to fix it.
      expect(current, `${path} is out of date: run npm run docs:config`).toBe(text);
    }
  });

  it('when any source file declares a setting, then the reference documents it', () => {
    const declared = ['services', 'packages', 'scripts', 'deploy'].flatMap(sourceFiles).flatMap((file) =>
      readFileSync(join(root, file), 'utf8').includes('env.')
        ? envSettingsIn(join(root, file)).map((s) => ({
            name: s.name,
            file: relative(root, s.source.fileName),
          }))
        : [],
    );
    expect(declared.length).toBeGreaterThan(50);
    const missing = declared.filter((d) => !known.has(d.name));
    expect(missing, 'add the file to processSources in scripts/docs/config-sources.ts').toEqual([]);
  });

  it('when .env.example sets a value, then every process that reads it accepts it', () => {
    const example = parseEnv(readFileSync(join(root, '.env.example'), 'utf8'));
    const set = Object.keys(example);
    expect(set).toEqual(
      expect.arrayContaining(['LINE_PROVIDER_ADMIN_TOKEN', 'LINE_PROVIDER_INTERNAL_TOKEN', 'JWT_SECRET']),
    );
    for (const name of set) {
      const variable = variables.find((v) => v.name === name);
      expect(variable, name).toBeDefined();
      for (const reading of variable!.readings) {
        const result = z.object({ [name]: reading.schema }).safeParse({ [name]: example[name] });
        expect(result.success, `${name} for ${reading.process.label}`).toBe(true);
      }
    }
  });

  it('when compose.yaml or the Kubernetes config passes a setting, then the reference documents it', () => {
    const compose = parse(readFileSync(join(root, 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { image?: string; environment?: Record<string, unknown> }>;
    };
    // The Scoreline containers, not PostgreSQL's or Redis's.
    const ours = Object.entries(compose.services).filter(([, s]) => s.image === 'scoreline:local');
    expect(ours.map(([name]) => name).sort()).toEqual([
      'line-provider',
      'migrate',
      'score-maker-api',
      'score-maker-worker',
    ]);
    const passed = ours.flatMap(([, s]) => Object.keys(s.environment ?? {}));
    const k8s = parseAllDocuments(readFileSync(join(root, 'deploy/k8s/config.yaml'), 'utf8')).map(
      (doc) => doc.toJS() as { kind: string; data?: Record<string, string> },
    );
    passed.push(...k8s.flatMap((doc) => (doc.kind === 'ConfigMap' ? Object.keys(doc.data ?? {}) : [])));
    expect(passed.filter((name) => !known.has(name))).toEqual([]);
  });
});
