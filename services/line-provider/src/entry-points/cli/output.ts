import { v1 } from '@scoreline/contracts';

/** An event as the CLI prints it in JSON: short enum names, ISO times. */
export interface EventView {
  id: number;
  title: string;
  state: string;
  status: string;
  deadline: string | null;
  scores: { count: number; sum: number; average: number; histogram: number[] };
  version: number;
  createdAt: string | null;
  updatedAt: string | null;
}

const iso = (date: Date | undefined) => (date ? date.toISOString() : null);

export function toView(event: v1.Event): EventView {
  const scores = event.scores ?? { count: 0, sum: 0, average: 0, histogram: [0, 0, 0, 0, 0] };
  return {
    id: event.id,
    title: event.title,
    state: v1.eventStateToJSON(event.state).replace('EVENT_STATE_', ''),
    status: v1.eventStatusToJSON(event.status).replace('EVENT_STATUS_', ''),
    deadline: iso(event.deadline),
    scores: { count: scores.count, sum: scores.sum, average: scores.average, histogram: scores.histogram },
    version: event.version,
    createdAt: iso(event.createdAt),
    updatedAt: iso(event.updatedAt),
  };
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Seconds are enough for a deadline on screen; JSON keeps milliseconds. */
const shortTime = (text: string | null) => (text ? text.replace(/\.\d{3}Z$/, 'Z') : '-');

function table(header: string[], rows: string[][], rightAligned: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1
          ? cell
          : rightAligned.has(i)
            ? cell.padStart(widths[i]!)
            : cell.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function eventTable(events: EventView[]): string {
  if (events.length === 0) return 'No events.\n';
  return table(
    ['ID', 'STATE', 'STATUS', 'COUNT', 'AVERAGE', 'DEADLINE', 'TITLE'],
    events.map((e) => [
      String(e.id),
      e.state,
      e.status,
      String(e.scores.count),
      e.scores.average.toFixed(2),
      shortTime(e.deadline),
      e.title,
    ]),
    new Set([0, 3, 4]),
  );
}

/** One event, one field a line, under a heading that says what was done. */
export function eventDetails(heading: string, e: EventView): string {
  const histogram = e.scores.histogram.map((n, i) => `${i + 1}:${n}`).join(' ');
  const fields: [string, string][] = [
    ['id', String(e.id)],
    ['title', e.title],
    ['state', e.state],
    ['status', e.status],
    ['count', String(e.scores.count)],
    ['average', e.scores.average.toFixed(2)],
    ['histogram', histogram],
    ['deadline', shortTime(e.deadline)],
    ['version', String(e.version)],
    ['created', shortTime(e.createdAt)],
    ['updated', shortTime(e.updatedAt)],
  ];
  return `${heading}\n${fields.map(([k, v]) => `  ${k.padEnd(10)}${v}`).join('\n')}\n`;
}
