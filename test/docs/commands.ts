import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { codeBlocks, shellLines } from './markdown.js';

/** A command as a document mentions it. */
export interface Mention {
  /** The file and line it is in, for messages. */
  where: string;
  /** The command line, from the command's first word. */
  text: string;
}

/** The words that start a command this project provides; everything after them is its arguments. */
const STARTS = /\b(npm (?:start|test|run(?:\s+-s|\s+--silent)?\s+[\w:.-]+)|node \S+|npx \S+|bash \S+)/g;

/** Cuts a command line where the shell would end it: a pipe, a list, a subshell's end, a comment. */
function commandAt(line: string, start: number): string {
  let quote: string | undefined;
  for (let i = start; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if ('|;&)`'.includes(c) || (c === '#' && /\s/.test(line[i - 1] ?? ' '))) {
      return line.slice(start, i).trim();
    }
  }
  return line.slice(start).trim();
}

/** Every command that starts somewhere in a line of text. */
export function commandsInText(text: string, where: (line: number) => string): Mention[] {
  const found: Mention[] = [];
  text.split('\n').forEach((line, i) => {
    for (const match of line.matchAll(STARTS)) {
      found.push({ where: where(i + 1), text: commandAt(line, match.index) });
    }
  });
  return found;
}

/** Markdown: commands in code blocks (joined across `\` line ends) and in inline code spans. */
export function commandsInMarkdown(file: string, markdown: string): Mention[] {
  const found: Mention[] = [];
  for (const block of codeBlocks(markdown)) {
    if (!['bash', 'sh', 'shell', ''].includes(block.lang)) continue;
    for (const line of shellLines(block.text)) {
      if (line.command) found.push(...commandsInText(line.command, () => `${file}:${block.line}`));
    }
  }
  const prose = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, (block) => block.replace(/[^\n]/g, ' '));
  prose.split('\n').forEach((line, i) => {
    for (const [, span] of line.matchAll(/`([^`]+)`/g)) {
      found.push(...commandsInText(span!, () => `${file}:${i + 1}`));
    }
  });
  return found;
}

/** YAML: every array of strings (a `command`, a health check's `test`) as one command line, and comments. */
export function commandsInYaml(file: string, text: string): Mention[] {
  const found = commandsInText(
    text
      .split('\n')
      .map((line) => (line.trimStart().startsWith('#') ? line : ''))
      .join('\n'),
    (line) => `${file}:${line}`,
  );
  const visit = (value: unknown) => {
    if (Array.isArray(value)) {
      if (value.every((v) => typeof v === 'string')) {
        found.push(...commandsInText(value.join(' '), () => file));
      } else value.forEach(visit);
    } else if (value && typeof value === 'object') {
      Object.values(value).forEach(visit);
    }
  };
  for (const doc of parseAllDocuments(text)) visit(doc.toJS());
  return found;
}

/** Dockerfile: comments, and exec-form (JSON array) instructions such as CMD. */
export function commandsInDockerfile(file: string, text: string): Mention[] {
  const found: Mention[] = [];
  text.split('\n').forEach((line, i) => {
    const where = () => `${file}:${i + 1}`;
    const exec = /^\s*(?:CMD|ENTRYPOINT|RUN)\s+(\[.*\])\s*$/.exec(line);
    if (exec) found.push(...commandsInText((JSON.parse(exec[1]!) as string[]).join(' '), where));
    else found.push(...commandsInText(line, where));
  });
  return found;
}

/** TypeScript: the text of string and template literals (what a program prints), not its code. */
export function commandsInStrings(file: string): Mention[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Mention[] = [];
  const visit = (node: ts.Node) => {
    const pieces: string[] = [];
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) pieces.push(node.text);
    if (ts.isTemplateExpression(node)) {
      // Placeholders become a space: the command text around them is what the user sees.
      pieces.push([node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' '));
    }
    for (const text of pieces) {
      const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      found.push(...commandsInText(text, () => `${file}:${line}`));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Splits a command line into words the way a shell would, quotes removed. */
export function words(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}
