#!/usr/bin/env node
// Generates src/gen from proto/ (ts-proto through buf, plus a FileDescriptorSet for gRPC reflection).
//
//   node scripts/generate.mjs                    lint, then regenerate src/gen in place
//   node scripts/generate.mjs --check [--against <dir>]
//                                                regenerate into a temp dir and compare it byte for byte
//                                                with <dir> (default src/gen); exit 1 naming stale files
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const genDir = 'src/gen';

const { values: args } = parseArgs({
  options: { check: { type: 'boolean', default: false }, against: { type: 'string' } },
});

// buf and protoc-gen-ts_proto are hoisted to the root node_modules; find them by walking up so the
// script also works when run with plain `node`, outside npm's PATH setup.
function findBinDir() {
  for (let dir = packageDir; ; dir = dirname(dir)) {
    const bin = join(dir, 'node_modules', '.bin');
    if (existsSync(join(bin, 'protoc-gen-ts_proto')) && existsSync(join(bin, 'buf'))) return bin;
    if (dirname(dir) === dir) throw new Error('buf or protoc-gen-ts_proto not found in node_modules/.bin');
  }
}
const binDir = findBinDir();

function buf(...bufArgs) {
  const result = spawnSync(join(binDir, 'buf'), bufArgs, {
    cwd: packageDir,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` },
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`buf ${bufArgs[0]} failed (exit ${result.status ?? 'signal'})`);
}

// Everything under outBase/src/gen is regenerated from scratch, so a deleted proto leaves no stale file.
function generateInto(outBase) {
  const target = join(outBase, genDir);
  rmSync(target, { recursive: true, force: true });
  buf('generate', '--output', outBase);
  // Imports (google/protobuf/timestamp.proto) and source info (comments) are kept by default.
  buf('build', '--output', join(target, 'descriptors.binpb'));
}

function listFiles(root) {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

function compare(expectedDir, actualDir) {
  const expected = new Set(listFiles(expectedDir));
  const actual = new Set(listFiles(actualDir));
  const problems = [];
  for (const file of expected) {
    if (!actual.has(file)) problems.push(`missing: ${file}`);
    else if (!readFileSync(join(expectedDir, file)).equals(readFileSync(join(actualDir, file))))
      problems.push(`differs: ${file}`);
  }
  for (const file of actual) if (!expected.has(file)) problems.push(`not generated any more: ${file}`);
  return problems;
}

function check() {
  const committed = args.against ? resolve(args.against) : join(packageDir, genDir);
  const scratch = mkdtempSync(join(tmpdir(), 'contracts-gen-'));
  try {
    generateInto(scratch);
    const problems = compare(join(scratch, genDir), committed);
    if (problems.length === 0) {
      process.stdout.write(`${committed} is up to date\n`);
      return true;
    }
    process.stderr.write(
      `Generated code in ${committed} is stale:\n${problems.map((p) => `  ${p}`).join('\n')}\n` +
        'Run `npm run generate` and commit the result.\n',
    );
    return false;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

try {
  buf('lint');
  if (args.check) {
    if (!check()) process.exitCode = 1;
  } else {
    generateInto(packageDir);
    process.stdout.write(`generated ${join(packageDir, genDir)}\n`);
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
