// `npm start`: the quick start's entry point, main.ts. It runs compiled (compiled.mjs bundles the
// TypeScript with esbuild once, and again only when a source changes), which starts in about half
// the time of transforming every source through tsx on each start. Without esbuild, or when the
// bundle cannot be linked, it runs the sources through tsx as before.
//
// Through tsx, everything imported once its hooks are registered is resolved and loaded through them,
// on a thread of their own, which measured here at two to three times the cost of Node's own loader
// for a package's JavaScript (typebox alone is some 370 ES modules). So on that path the runtime
// dependencies the workspaces declare are loaded first, by Node itself, and only then the TypeScript:
// when the sources import them, they are already loaded. A dependency that fails to load here is
// left to the sources to import.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compiledQuickstart } from './compiled.mjs';
import { ensureWebApp } from './web-app.mjs';

const root = new URL('../../', import.meta.url);
ensureWebApp(root);

const compiled = process.env.SCORELINE_QUICKSTART_TSX ? undefined : await compiledQuickstart(root);
if (!compiled || !(await ranCompiled(compiled))) await runThroughTsx();

/** False when the bundle could not be linked (nothing of it ran then); its own errors are its own. */
async function ranCompiled(url) {
  try {
    await import(url);
    return true;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    console.error(
      `scoreline: the compiled quick start did not load (${error.message}); running it through tsx`,
    );
    return false;
  }
}

async function runThroughTsx() {
  const dependencies = new Set();
  for (const workspace of JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).workspaces) {
    const manifest = JSON.parse(readFileSync(new URL(`${workspace}/package.json`, root), 'utf8'));
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      // A workspace's own copy of a package would not be the one loaded from here.
      const own = existsSync(new URL(`${workspace}/node_modules/${name}`, root));
      if (!name.startsWith('@scoreline/') && !own) dependencies.add(name);
    }
  }
  await Promise.allSettled([...dependencies].map((name) => import(name)));

  const { register } = await import('tsx/esm/api');
  // The repository's tsconfig, wherever this is started from (tsx looks in the working directory).
  register({ tsconfig: fileURLToPath(new URL('tsconfig.json', root)) });
  await import('./main.ts');
}
