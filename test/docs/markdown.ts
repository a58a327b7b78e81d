/** Reading shell commands out of Markdown, for the tests that hold the documentation to the code. */

export interface CodeBlock {
  lang: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above it. */
  section: string;
}

/** Every fenced code block, with the heading it sits under. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{1,6}\s+(.*)$/.exec(lines[i]!);
    if (heading) section = heading[1]!.trim();
    const fence = /^(\s*)(```+|~~~+)\s*([\w-]*)/.exec(lines[i]!);
    if (!fence) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trim().startsWith(fence[2]!)) body.push(lines[j++]!);
    blocks.push({ lang: fence[3] ?? '', text: body.join('\n'), line: i + 1, section });
    i = j;
  }
  return blocks;
}

/** Shell lines joined across trailing backslashes, with the comment of each and blank lines kept apart. */
export interface ShellLine {
  /** The command, or '' for a comment-only or blank line. */
  command: string;
  /** The text after `#` on the line(s), if any. */
  comment: string;
  blank: boolean;
}

/** Splits off a trailing `# comment` that is not inside quotes. */
function splitComment(line: string): [string, string] {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '\\') {
      i++;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return [line.slice(0, i).trimEnd(), line.slice(i + 1).trim()];
    }
  }
  return [line, ''];
}

export function shellLines(text: string): ShellLine[] {
  const out: ShellLine[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    let [command, comment] = splitComment(raw[i]!);
    while (command.endsWith('\\') && i + 1 < raw.length) {
      const [next, nextComment] = splitComment(raw[++i]!);
      command = `${command.slice(0, -1).trimEnd()} ${next.trim()}`;
      comment = [comment, nextComment].filter(Boolean).join(' ');
    }
    out.push({ command: command.trim(), comment, blank: raw[i]!.trim() === '' });
  }
  return out;
}
