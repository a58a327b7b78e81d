// The quick start's TypeScript compiled ahead, once, into one ES module that Node loads without tsx.
//
// Run through tsx, every source file is transformed on each start (about half of a second start's
// time here). So `npm start` bundles the quick start and the workspaces' sources with esbuild into
// node_modules/.cache/scoreline/, with a manifest of every input's size and mtime, and runs that
// bundle for as long as no input changed: an edited source, a pulled commit or another esbuild or
// Node version rebuilds it (a fraction of a second). Packages hoisted to the repository's
// node_modules stay outside the bundle and are loaded by Node as usual, so their own files (PGlite's
// WebAssembly, Swagger UI's assets, protos) are found where they are; a workspace's own copy of a
// package is bundled in, because the bundle sits at the root and would resolve the hoisted one.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ENTRY = 'scripts/quickstart/main.ts';
const OUT_DIR = 'node_modules/.cache/scoreline';
const OUT_FILE = 'quickstart.mjs';
const MANIFEST = 'quickstart.manifest.json';

/** What else makes a bundle stale besides its inputs: this file, the bundler, the runtime. */
function fingerprint(root, esbuildVersion) {
  const self = statSync(fileURLToPath(import.meta.url));
  return `${esbuildVersion} node ${process.version} compiled.mjs ${self.size}:${self.mtimeMs}`;
}

const stamp = (path) => {
  const stat = statSync(path);
  return `${stat.size}:${stat.mtimeMs}`;
};

/** The bundle's URL when it exists and no input changed since it was written; otherwise undefined. */
function fresh(root, outDir, esbuildVersion) {
  try {
    const manifest = JSON.parse(readFileSync(join(outDir, MANIFEST), 'utf8'));
    if (manifest.fingerprint !== fingerprint(root, esbuildVersion)) return undefined;
    for (const [input, seen] of Object.entries(manifest.inputs)) {
      if (stamp(join(root, input)) !== seen) return undefined;
    }
    return pathToFileURL(join(outDir, OUT_FILE)).href;
  } catch {
    return undefined; // no manifest yet, or an input is gone
  }
}

/**
 * The compiled quick start's URL, built first when missing or stale (into node_modules/.cache/scoreline,
 * or `outDir`). Undefined when esbuild is not installed or the build fails: the caller then runs the
 * sources through tsx as before.
 */
export async function compiledQuickstart(rootUrl, { outDir: outDirOption } = {}) {
  const root = fileURLToPath(rootUrl);
  const outDir = outDirOption ?? join(root, OUT_DIR);
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const ready = fresh(root, outDir, esbuild.version);
  if (ready) return ready;

  const hoisted = join(root, 'node_modules') + sep;
  const isHoistedPackage = (path, specifier) => {
    const name = specifier.startsWith('@')
      ? specifier.split('/').slice(0, 2).join('/')
      : specifier.split('/')[0];
    return path.startsWith(join(hoisted, name) + sep);
  };
  const packages = {
    name: 'packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'resolving' || args.path.startsWith('@scoreline/')) return undefined;
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        const found = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'resolving',
        });
        if (found.errors.length > 0) return { errors: found.errors };
        if (!isAbsolute(found.path) || isHoistedPackage(found.path, args.path)) {
          return { path: args.path, external: true };
        }
        return { path: found.path };
      });
      // Sources find their files (migrations, descriptors) beside them: keep them pointing there.
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        const url = JSON.stringify(pathToFileURL(args.path).href);
        return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };

  mkdirSync(outDir, { recursive: true });
  const partial = join(outDir, `${OUT_FILE}.${process.pid}.tmp`);
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [join(root, ENTRY)],
      outfile: partial,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      tsconfig: join(root, 'tsconfig.json'),
      plugins: [packages],
      metafile: true,
      sourcemap: 'linked',
      logLevel: 'silent',
      // Bundled CommonJS (a workspace's own package) may call require.
      banner: {
        js: "import { createRequire as __scorelineRequire } from 'node:module';\nconst require = __scorelineRequire(import.meta.url);",
      },
    });
  } catch (error) {
    console.error(
      `scoreline: compiling the quick start failed, running it through tsx: ${error.message ?? error}`,
    );
    return undefined;
  }
  const inputs = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const path = isAbsolute(input) ? input : join(root, input);
    inputs[relative(root, path)] = stamp(path);
  }
  // The map names the temporary file; point it at the final one, then move both into place.
  const out = join(outDir, OUT_FILE);
  const code = readFileSync(partial, 'utf8').replace(
    /\/\/# sourceMappingURL=.*$/m,
    `//# sourceMappingURL=${OUT_FILE}.map`,
  );
  writeFileSync(partial, code);
  renameSync(`${partial}.map`, `${out}.map`);
  renameSync(partial, out);
  const manifest = { fingerprint: fingerprint(root, esbuild.version), inputs };
  writeFileSync(`${partial}.json`, `${JSON.stringify(manifest, null, 1)}\n`);
  renameSync(`${partial}.json`, join(outDir, MANIFEST));
  return pathToFileURL(out).href;
}
