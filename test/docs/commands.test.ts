import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  commandsInDockerfile,
  commandsInMarkdown,
  commandsInStrings,
  commandsInYaml,
  words,
  type Mention,
} from './commands.js';

/**
 * Every command the documentation and the deployment files tell someone to run must exist: npm scripts
 * in package.json, the admin CLIs' subcommands and flags as their own `--help` lists them, entry-point
 * files, binaries from node_modules; and every repository path and local link the docs name.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;

const files = (dir: string, ext: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : [],
  );
const markdown = ['README.md', 'DEVELOPERS.md', ...files('docs', '.md')];
const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;

const sources: Record<string, Mention[]> = {
  'README.md': commandsInMarkdown('README.md', read('README.md')),
  'docs/ and DEVELOPERS.md': markdown.slice(1).flatMap((f) => commandsInMarkdown(f, read(f))),
  'compose.yaml': commandsInYaml('compose.yaml', read('compose.yaml')),
  'deploy/k8s': files('deploy/k8s', '.yaml').flatMap((f) => commandsInYaml(f, read(f))),
  Dockerfile: commandsInDockerfile('Dockerfile', read('Dockerfile')),
  // What `npm start` prints: the string and template literals of the quick start's code.
  'the npm start banner': files('scripts/quickstart', '.ts').flatMap((f) => commandsInStrings(join(root, f))),
};
const mentions = Object.values(sources).flat();

/** What a CLI's `--help` lists: each usage line's subcommand words and flags, and flags for all. */
interface Usage {
  path: string[];
  flags: Set<string>;
}
interface Help {
  text: string;
  usages: Usage[];
  common: Set<string>;
}

const flagsIn = (text: string) =>
  new Set([...text.matchAll(/(?<![\w-])(--?[a-z][\w-]*)/g)].map((m) => m[1]!));
const plainWord = /^[a-z][a-z-]*$/;

function parseHelp(script: string, text: string): Help {
  const usages: Usage[] = [];
  const common = new Set<string>();
  const prefix = `npm run ${script} --`;
  for (const line of text.split('\n')) {
    const at = line.indexOf(prefix);
    if (at < 0) {
      if (line.trimStart().startsWith('-')) flagsIn(line).forEach((f) => common.add(f));
      continue;
    }
    const rest = line.slice(at + prefix.length).trim();
    const flags = flagsIn(rest);
    // `[list | stuck] …`: an optional choice of subcommands.
    const choice = /^\[([a-z |-]+)\]/.exec(rest);
    if (choice) {
      usages.push({ path: [], flags });
      for (const word of choice[1]!.split('|')) usages.push({ path: [word.trim()], flags });
      continue;
    }
    const path: string[] = [];
    for (const word of rest.split(/\s+/)) {
      if (!plainWord.test(word)) break;
      path.push(word);
    }
    usages.push({ path, flags });
  }
  return { text, usages, common };
}

/** Runs the script's entry point with `--help` (straight through node: npm would add a second). */
async function helpOf(script: string): Promise<Help> {
  const command = /^node --import tsx (\S+)$/.exec(scripts[script] ?? '');
  if (!command) throw new Error(`npm run ${script} is not a node entry point: ${scripts[script]}`);
  const child = spawn(process.execPath, ['--import', 'tsx', command[1]!, '--help'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  let text = '';
  child.stdout.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr.on('data', (c: Buffer) => (text += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`npm run ${script} -- --help exited ${code}:\n${text}`);
  return parseHelp(script, text);
}

interface NpmRun {
  script: string;
  args: string[];
}

function npmRun(mention: Mention): NpmRun | undefined {
  // Prose may end a command with punctuation: "… run npm start."
  const w = words(mention.text).map((word) => word.replace(/[.,:;]+$/, ''));
  if (w[0] !== 'npm') return undefined;
  if (w[1] === 'start' || w[1] === 'test') return { script: w[1], args: [] };
  const rest = w.slice(2).filter((word) => word !== '-s' && word !== '--silent');
  const dashes = rest.indexOf('--');
  // `[--expires 12h]` in a usage-style mention is the flag itself, optional.
  const args = dashes < 0 ? [] : rest.slice(dashes + 1).map((a) => a.replace(/^\[|\]$/g, ''));
  return { script: rest[0]!, args };
}

describe('the commands the documentation and deployment files mention', () => {
  it('when extracted, then every kind of source yields commands', () => {
    for (const [source, found] of Object.entries(sources)) {
      expect(found.length, `commands found in ${source}`).toBeGreaterThanOrEqual(2);
    }
    expect(mentions.length).toBeGreaterThan(60);
  });

  it('when a command runs an npm script, then package.json has it', () => {
    const missing = mentions.flatMap((m) => {
      const run = npmRun(m);
      return run && !(run.script in scripts) ? [`${m.where}: ${m.text}`] : [];
    });
    expect(missing, 'scripts named in docs but missing from package.json').toEqual([]);
  });

  it('when a command gives a CLI arguments, then its --help lists the subcommand and flags', async () => {
    const calls = mentions.flatMap((m) => {
      const run = npmRun(m);
      // `npm run cli -- …` stands for any arguments.
      const placeholder = run?.args[0] === '…' || run?.args[0] === '...';
      return run && run.args.length > 0 && !placeholder ? [{ ...run, mention: m }] : [];
    });
    const clis = [...new Set(calls.map((c) => c.script))].sort();
    expect(clis).toEqual(expect.arrayContaining(['cli', 'sagas', 'token']));
    const helps = new Map(await Promise.all(clis.map(async (s) => [s, await helpOf(s)] as const)));
    const wrong: string[] = [];
    for (const { script, args, mention } of calls) {
      const help = helps.get(script)!;
      const path: string[] = [];
      for (const word of args) {
        if (!plainWord.test(word)) break;
        path.push(word);
      }
      const flags = args.filter((a) => a.startsWith('-')).map((a) => a.split('=')[0]!);
      const usage = help.usages.find((u) => u.path.join(' ') === path.join(' '));
      const unknown = flags.filter((f) => !usage?.flags.has(f) && !help.common.has(f));
      if (!usage || unknown.length > 0) {
        wrong.push(
          `${mention.where}: ${mention.text} (${usage ? `unknown ${unknown.join(', ')}` : `no "${path.join(' ')}"`})`,
        );
      }
    }
    expect(wrong, `not in the CLIs' --help:\n${[...helps.values()].map((h) => h.text).join('\n')}`).toEqual(
      [],
    );
  });

  it('when a command runs a file or a binary, then it exists', () => {
    const missing = mentions.flatMap((m) => {
      const [first, second] = words(m.text);
      const file =
        first === 'node' ? scriptOf(words(m.text).slice(1)) : first === 'bash' ? second : undefined;
      if (file && /[$<{]/.test(file)) return [];
      if (file && !existsSync(join(root, file))) return [`${m.where}: ${m.text}`];
      if (first === 'npx' && !existsSync(join(root, 'node_modules/.bin', second!))) {
        return [`${m.where}: ${m.text} (no node_modules/.bin/${second})`];
      }
      return [];
    });
    expect(missing).toEqual([]);
  });

  it('when the docs name a repository path or link a local page, then it exists', () => {
    const topLevel = new Set(readdirSync(root));
    const missing: string[] = [];
    for (const file of markdown) {
      const text = read(file).replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
      for (const [, span] of text.matchAll(/`([^`\s]+)`/g)) {
        const path = span!.replace(/\/$/, '');
        if (!path.includes('/') || /[:<>{}*$]/.test(path) || !topLevel.has(path.split('/')[0]!)) continue;
        // Paths inside a service are often written from the service's folder (`test/…`, `src/…`).
        const bases = ['', ...workspaces];
        if (!bases.some((base) => existsSync(join(root, base, path)))) missing.push(`${file}: \`${span}\``);
      }
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const resolved = path ? join(dirname(join(root, file)), path) : join(root, file);
        if (!existsSync(resolved)) missing.push(`${file}: (${target}) does not exist`);
        else if (
          anchor &&
          resolved.endsWith('.md') &&
          !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)
        ) {
          missing.push(`${file}: (${target}) has no heading #${anchor} in ${relative(root, resolved)}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

/** The file `node` is told to run: the first word that is not an option (`--import tsx` takes a value). */
function scriptOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--import' || arg === '--require' || arg === '-r') i++;
    else if (['-e', '-p', '-pe', '--eval', '--print'].includes(arg)) return undefined;
    // A script file; anything else after "node" is prose ("node gets SIGTERM …").
    else if (!arg.startsWith('-')) return /\.[cm]?[jt]s$/.test(arg) ? arg : undefined;
  }
  return undefined;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const body = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  return new Set(
    [...body.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}
