import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { buildConfigModel } from './config-model.js';
import { renderConfigReference, renderEnvExample } from './render-config.js';

/**
 * `npm run docs:config`: writes docs/configuration.md and .env.example from the configuration schemas.
 * `--check` writes nothing and exits 1 when either file differs from what it would write.
 */
export const root = fileURLToPath(new URL('../../', import.meta.url));

export async function renderConfigFiles(): Promise<Record<string, string>> {
  const variables = buildConfigModel(root);
  return {
    'docs/configuration.md': await renderConfigReference(variables),
    '.env.example': renderEnvExample(variables),
  };
}

async function main() {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(await renderConfigFiles())) {
    const file = join(root, path);
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      // a missing file is simply out of date
    }
    if (current === text) continue;
    if (check) {
      console.error(`${path} is out of date: run npm run docs:config`);
      stale++;
    } else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      console.log(`wrote ${path}`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}

// Run as a script (not imported by the drift test); resolved so that spaces or links in the path still match.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) await main();
