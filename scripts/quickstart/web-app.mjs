// The web app that score-maker serves at `/`: built by `npm start` when web/dist is missing (a fresh
// clone), in a child process so that the quick start never loads Vite itself. Built into a folder of
// its own and renamed into place, so that two quick starts building at once cannot mix their output.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function ensureWebApp(root) {
  const dist = fileURLToPath(new URL('web/dist', root));
  if (existsSync(`${dist}/index.html`)) return;
  let vite;
  try {
    const manifest = createRequire(import.meta.url).resolve('vite/package.json');
    vite = join(dirname(manifest), JSON.parse(readFileSync(manifest, 'utf8')).bin.vite);
  } catch {
    console.log('Scoreline: the web app is not built and Vite is not installed; the API runs without it.');
    return;
  }
  console.log('Scoreline: building the web app (npm run build:web), once…');
  const temporary = `${dist}.${process.pid}`;
  const config = fileURLToPath(new URL('web/vite.config.ts', root));
  const built = spawnSync(
    process.execPath,
    [vite, 'build', '--config', config, '--outDir', temporary, '--logLevel', 'warn'],
    { stdio: 'inherit' },
  );
  try {
    if (built.status === 0 && !existsSync(`${dist}/index.html`)) {
      rmSync(dist, { recursive: true, force: true });
      renameSync(temporary, dist);
    }
  } catch {
    // Another quick start put its build in place first.
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
}
