import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDeadline } from './deadline.js';
import type { Action } from './help.js';

export type ListState = 'open' | 'closed' | 'cancelled' | 'all';

export type Command =
  | { kind: 'help' }
  | { kind: 'create'; title: string; deadline: Date; json: boolean }
  | { kind: 'list'; state: ListState; limit: number; json: boolean }
  | { kind: 'get'; id: number; json: boolean }
  | { kind: 'update'; id: number; title?: string; deadline?: Date; json: boolean }
  | { kind: 'close'; id: number; json: boolean }
  | { kind: 'cancel'; id: number; reason: string; json: boolean }
  | { kind: 'score'; scoreId: string; json: boolean };

/** A command line that cannot be run as typed; `action` picks the usage line to show with it. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly action?: Action,
  ) {
    super(message);
  }
}

const LIST_STATES: readonly ListState[] = ['open', 'closed', 'cancelled', 'all'];
const MAX_LIMIT = 10_000;

type Options = NonNullable<ParseArgsConfig['options']>;
const common = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } satisfies Options;
const optionsOf = {
  create: { ...common, title: { type: 'string' }, deadline: { type: 'string' } },
  list: { ...common, state: { type: 'string' }, limit: { type: 'string' } },
  get: common,
  update: { ...common, title: { type: 'string' }, deadline: { type: 'string' } },
  close: common,
  cancel: { ...common, reason: { type: 'string' } },
  show: common,
} satisfies Record<Action, Options>;

/** The subcommands of each command group. */
const GROUPS = {
  events: ['create', 'list', 'get', 'update', 'close', 'cancel'],
  scores: ['show'],
} as const satisfies Record<string, readonly Action[]>;

function isAction(group: keyof typeof GROUPS, word: string | undefined): word is Action {
  return word !== undefined && (GROUPS[group] as readonly string[]).includes(word);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function scoreId(positionals: string[], action: Action): string {
  if (positionals.length === 0) throw new UsageError('missing the score id', action);
  if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals[1]}`, action);
  const text = positionals[0]!;
  if (!UUID.test(text)) {
    throw new UsageError(
      `score id must be a UUID, score-maker's id of the score (got ${JSON.stringify(text)})`,
      action,
    );
  }
  return text.toLowerCase();
}

/** node:util's parse errors, shortened to one line that names the option. */
function parseError(error: unknown, action: Action): UsageError {
  const { code, message } = error as { code?: string; message?: string };
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw error;
  const option = /'(-[^' ]+)/.exec(message ?? '')?.[1];
  const text =
    code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      ? `unknown option ${option}`
      : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? `unexpected argument: ${/'([^']*)'/.exec(message ?? '')?.[1]}`
        : /argument missing|ambiguous/.test(message ?? '')
          ? `${option} needs a value (write ${option}=<value> if it starts with "-")`
          : (message ?? code).split('\n')[0]!;
  return new UsageError(text, action);
}

function eventId(positionals: string[], action: Action): number {
  if (positionals.length === 0) throw new UsageError('missing the event id', action);
  if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals[1]}`, action);
  const text = positionals[0]!;
  const id = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new UsageError(`event id must be a whole number >= 1 (got ${JSON.stringify(text)})`, action);
  }
  return id;
}

function deadline(text: string, now: Date, action: Action): Date {
  const result = parseDeadline(text, now);
  if (!result.ok) throw new UsageError(result.message, action);
  return result.date;
}

/** Turns argv (after the script name) into a command, or throws a UsageError. */
export function parseCommand(argv: readonly string[], now: Date): Command {
  const [group, word, ...rest] = argv;
  if (group === undefined) throw new UsageError('no command given');
  if (group === 'help' || group === '--help' || group === '-h') return { kind: 'help' };
  if (group !== 'events' && group !== 'scores')
    throw new UsageError(`unknown command ${JSON.stringify(group)}`);
  if (word === '--help' || word === '-h' || word === 'help') return { kind: 'help' };
  if (!isAction(group, word)) {
    const words = GROUPS[group];
    throw new UsageError(
      word === undefined
        ? `${group} needs a subcommand: ${words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words[0]}`
        : `unknown subcommand "${group} ${word}"`,
    );
  }
  const action = word;

  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: optionsOf[action],
      strict: true,
      allowPositionals: action !== 'create' && action !== 'list',
    });
  } catch (error) {
    throw parseError(error, action);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { kind: 'help' };
  const json = values.json === true;
  const text = (name: string) => values[name] as string | undefined;

  switch (action) {
    case 'create': {
      const title = text('title');
      const when = text('deadline');
      if (title === undefined) throw new UsageError('missing --title', action);
      if (when === undefined) throw new UsageError('missing --deadline', action);
      return { kind: 'create', title, deadline: deadline(when, now, action), json };
    }
    case 'list': {
      const state = (text('state') ?? 'all').toLowerCase();
      if (!LIST_STATES.includes(state as ListState)) {
        throw new UsageError(`--state must be one of ${LIST_STATES.join(', ')} (got ${state})`, action);
      }
      const limitText = text('limit') ?? '50';
      const limit = /^\d{1,6}$/.test(limitText) ? Number(limitText) : NaN;
      if (!(limit >= 1 && limit <= MAX_LIMIT)) {
        throw new UsageError(
          `--limit must be a whole number from 1 to ${MAX_LIMIT} (got ${limitText})`,
          action,
        );
      }
      return { kind: 'list', state: state as ListState, limit, json };
    }
    case 'update': {
      const id = eventId(parsed.positionals, action);
      const title = text('title');
      const when = text('deadline');
      if (title === undefined && when === undefined) {
        throw new UsageError('nothing to change: give --title, --deadline or both', action);
      }
      return {
        kind: 'update',
        id,
        ...(title !== undefined && { title }),
        ...(when !== undefined && { deadline: deadline(when, now, action) }),
        json,
      };
    }
    case 'cancel':
      return { kind: 'cancel', id: eventId(parsed.positionals, action), reason: text('reason') ?? '', json };
    case 'get':
    case 'close':
      return { kind: action, id: eventId(parsed.positionals, action), json };
    case 'show':
      return { kind: 'score', scoreId: scoreId(parsed.positionals, action), json };
  }
}
