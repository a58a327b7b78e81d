import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { compiledQuickstart } from '../../scripts/quickstart/compiled.mjs';

const root = new URL('../../', import.meta.url);
const outDir = mkdtempSync(join(tmpdir(), 'scoreline-compiled-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const bundle = join(outDir, 'quickstart.mjs');
const manifestFile = join(outDir, 'quickstart.manifest.json');
const manifest = () =>
  JSON.parse(readFileSync(manifestFile, 'utf8')) as { fingerprint: string; inputs: Record<string, string> };

describe('the compiled quick start (npm start without tsx)', () => {
  it('when compiled, then one bundle holds the workspaces sources, and their packages stay outside it', async () => {
    const url = await compiledQuickstart(root, { outDir });
    expect(url && fileURLToPath(url)).toBe(bundle);
    const inputs = Object.keys(manifest().inputs);
    expect(inputs).toContain('scripts/quickstart/main.ts');
    expect(inputs.some((i) => i.startsWith('services/score-maker/src/'))).toBe(true);
    expect(inputs.some((i) => i.startsWith('services/line-provider/src/'))).toBe(true);
    const code = readFileSync(bundle, 'utf8');
    // Hoisted packages are imported by name, so that they find their own files where they are.
    expect(code).toMatch(/from ["']@grpc\/grpc-js["']/);
    // Sources that read files beside them (migrations, descriptors) still point at their own folder.
    const migrations = new URL('services/line-provider/src/data-access/migrations.ts', root).href;
    expect(code).toContain(JSON.stringify(migrations));
  });

  it('when nothing changed, then it is not built again', async () => {
    const before = statSync(bundle).mtimeMs;
    await compiledQuickstart(root, { outDir });
    expect(statSync(bundle).mtimeMs).toBe(before);
  });

  it('when an input changed since the build, then it is built again', async () => {
    const before = statSync(bundle).mtimeMs;
    const stale = manifest();
    // As if main.ts had been edited after the build: its recorded size and mtime no longer match.
    stale.inputs['scripts/quickstart/main.ts'] = '0:0';
    writeFileSync(manifestFile, JSON.stringify(stale));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await compiledQuickstart(root, { outDir });
    expect(statSync(bundle).mtimeMs).toBeGreaterThan(before);
    expect(manifest().inputs['scripts/quickstart/main.ts']).not.toBe('0:0');
  });
});
