import { readFileSync } from 'node:fs';
import ts from 'typescript';

/** Environment variable names as schemas spell them. */
export const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;

/** One `NAME: <schema>` entry of a configuration object literal, as written in the source. */
export interface SourceSetting {
  name: string;
  /** The doc comment above it, on one line; undefined when it has none. */
  comment?: string;
  initializer: ts.Expression;
  source: ts.SourceFile;
}

export function parseSource(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** The text of a node's `/** … *\/` comment: lines joined, leading stars dropped. */
function docComment(node: ts.Node, source: ts.SourceFile): string | undefined {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const doc = ranges.filter((r) => source.text.startsWith('/**', r.pos)).at(-1);
  if (!doc) return undefined;
  const text = source.text
    .slice(doc.pos + 3, doc.end - 2)
    .split('\n')
    .map((line) => line.replace(/^\s*\*?\s?/, '').trim())
    .filter((line) => line !== '')
    .join(' ');
  return text === '' ? undefined : text;
}

/** Top-level `const NAME = <initializer>` declarations of a file. */
export function constants(source: ts.SourceFile): Map<string, ts.Expression> {
  const found = new Map<string, ts.Expression>();
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const decl of statement.declarationList.declarations) {
      if (ts.isIdentifier(decl.name) && decl.initializer) found.set(decl.name.text, decl.initializer);
    }
  }
  return found;
}

/**
 * The settings of the object literal `constName` in `file`, in order, following spreads of other
 * object literals declared in the same file (`...common`). Later entries win, as they do at run time.
 */
export function schemaSettings(file: string, constName: string): Map<string, SourceSetting> {
  const source = parseSource(file);
  const consts = constants(source);
  const settings = new Map<string, SourceSetting>();
  const visit = (name: string) => {
    const literal = consts.get(name);
    if (!literal || !ts.isObjectLiteralExpression(literal)) {
      throw new Error(`${file}: no object literal named ${name}`);
    }
    for (const property of literal.properties) {
      if (ts.isSpreadAssignment(property) && ts.isIdentifier(property.expression)) {
        visit(property.expression.text);
      } else if (ts.isPropertyAssignment(property) && ts.isIdentifier(property.name)) {
        const key = property.name.text;
        settings.delete(key);
        settings.set(key, {
          name: key,
          comment: docComment(property, source),
          initializer: property.initializer,
          source,
        });
      }
    }
  };
  visit(constName);
  return settings;
}

/**
 * Every `NAME: env.…` entry anywhere in a file (including ones built through a local helper such as
 * `serverUrl()`), for the processes whose schemas are not exported.
 */
export function envSettingsIn(file: string): SourceSetting[] {
  const source = parseSource(file);
  const consts = constants(source);
  const usesEnv = (node: ts.Node): boolean => {
    if (ts.isIdentifier(node)) {
      if (node.text === 'env') return true;
      const local = consts.get(node.text);
      return local !== undefined && ts.isArrowFunction(local) && usesEnv(local.body);
    }
    return ts.forEachChild(node, (child) => (usesEnv(child) ? true : undefined)) ?? false;
  };
  const found: SourceSetting[] = [];
  const walk = (node: ts.Node) => {
    if (
      ts.isPropertyAssignment(node) &&
      ts.isIdentifier(node.name) &&
      ENV_NAME.test(node.name.text) &&
      usesEnv(node.initializer)
    ) {
      const comment = docComment(node, source);
      found.push({ name: node.name.text, comment, initializer: node.initializer, source });
    }
    ts.forEachChild(node, walk);
  };
  walk(source);
  return found;
}
