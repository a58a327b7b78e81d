import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** One import or re-export of a file of the tree, resolved to the file it names. */
export interface ImportEdge {
  from: string;
  to: string;
  /** `import type`, `export type`, or every named binding marked `type`: erased at compile time. */
  typeOnly: boolean;
}

export const repoRoot = resolve(import.meta.dirname, '../..');

/** The workspace packages' entry points, as their package.json "exports" name them. */
const packageEntries: Record<string, string> = {
  '@scoreline/contracts': 'packages/contracts/src/index.ts',
  '@scoreline/contracts/scores': 'packages/contracts/src/scores.ts',
  '@scoreline/platform': 'packages/platform/src/index.ts',
  '@scoreline/platform/testing': 'packages/platform/src/testing/index.ts',
  '@scoreline/platform/tracing': 'packages/platform/src/telemetry/tracing.ts',
};

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(relative(repoRoot, path));
  }
}

/** Every TypeScript file below the given folders (relative to the repository root). */
export function sourceFiles(...folders: string[]): string[] {
  const out: string[] = [];
  for (const folder of folders) walk(join(repoRoot, folder), out);
  return out.sort();
}

function resolveSpecifier(from: string, specifier: string, known: Set<string>): string | undefined {
  const entry = packageEntries[specifier];
  if (entry) return entry;
  if (!specifier.startsWith('.')) return undefined;
  const base = relative(repoRoot, resolve(repoRoot, dirname(from), specifier));
  const stem = base.replace(/\.(js|ts|mjs)$/, '');
  return [`${stem}.ts`, `${stem}.tsx`, `${stem}/index.ts`, base].find((candidate) => known.has(candidate));
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause;
    if (!clause) return false; // a side-effect import runs the module
    if (clause.isTypeOnly) return true;
    if (clause.name) return false;
    const bindings = clause.namedBindings;
    return !!bindings && ts.isNamedImports(bindings) && bindings.elements.every((e) => e.isTypeOnly);
  }
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return !!clause && ts.isNamedExports(clause) && clause.elements.every((e) => e.isTypeOnly);
}

/** The static imports and re-exports between the given files (dynamic import() is not followed). */
export function importEdges(files: readonly string[]): ImportEdge[] {
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  for (const from of files) {
    const source = ts.createSourceFile(
      from,
      readFileSync(join(repoRoot, from), 'utf8'),
      ts.ScriptTarget.Latest,
    );
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
      const specifier = statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier)) continue;
      const to = resolveSpecifier(from, specifier.text, known);
      if (to) edges.push({ from, to, typeOnly: isTypeOnly(statement) });
    }
  }
  return edges;
}

/**
 * The import circles: each strongly connected group of files (Tarjan), written as one closed path
 * through it, e.g. `a.ts -> b.ts -> a.ts`. Type-only imports count: a circle of types still ties the
 * files so that neither can move or be read without the other.
 */
export function importCircles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== node);
      const selfImport = (next.get(node) ?? []).includes(node);
      if (group.length > 1 || selfImport) groups.push(group);
    }
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return groups.map((group) => closedPath(group, next));
}

/** A path from the group's first file (by name) back to itself, staying inside the group. */
function closedPath(group: string[], next: Map<string, string[]>): string {
  const members = new Set(group);
  const start = [...group].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of next.get(node) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let at: string | undefined = node; at !== undefined && at !== start; at = cameFrom.get(at)) {
          path.splice(1, 0, at);
        }
        return [...path, start].join(' -> ');
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, node);
        queue.push(to);
      }
    }
  }
  return group.join(', ');
}
