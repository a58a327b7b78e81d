import { v1 } from '@scoreline/contracts';
import { ConfigError, type Env } from '@scoreline/platform';
import { parseCommand, UsageError, type Command, type ListState } from './args.js';
import { loadCliAdminConfig, loadCliConfig } from './cli-config.js';
import {
  createCliClient,
  describeGrpcError,
  isServiceError,
  type CliClient,
  type CliClientSettings,
} from './client.js';
import { HELP, usageHint } from './help.js';
import { eventDetails, eventTable, json, toView, type EventView } from './output.js';
import { ledgerDetails, toLedgerView } from './score-output.js';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Where settings come from. Left out: the process environment (read by loadConfig) and `.env`. */
  env?: Env;
  /** A dotenv file read under `env`; defaults to `.env` when `env` is left out and to none when given. */
  envFile?: string | false;
  now?: () => Date;
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const stateFilter: Record<ListState, v1.EventState> = {
  all: v1.EventState.EVENT_STATE_UNSPECIFIED,
  open: v1.EventState.EVENT_STATE_OPEN,
  closed: v1.EventState.EVENT_STATE_CLOSED,
  cancelled: v1.EventState.EVENT_STATE_CANCELLED,
};

const ADMIN_KINDS = new Set<Command['kind']>(['create', 'update', 'close', 'cancel', 'score']);
const PAGE_SIZE_MAX = 500;

/** Reads pages until `limit` events are in hand; says whether more exist past them. */
async function listEvents(client: CliClient, state: ListState, limit: number) {
  const events: v1.Event[] = [];
  let pageToken = '';
  for (;;) {
    const page = await client.listEvents(
      v1.ListEventsRequest.fromPartial({
        state: stateFilter[state],
        pageSize: Math.min(limit - events.length, PAGE_SIZE_MAX),
        pageToken,
      }),
    );
    events.push(...page.events);
    pageToken = page.nextPageToken;
    if (pageToken === '' || events.length >= limit) return { events, more: pageToken !== '' };
  }
}

/** Runs one command against line-provider and prints what it returns. */
async function execute(command: Exclude<Command, { kind: 'help' }>, client: CliClient, io: CliIo) {
  if (command.kind === 'list') {
    const { events, more } = await listEvents(client, command.state, command.limit);
    const views = events.map(toView);
    if (command.json) {
      io.stdout.write(json(views));
    } else {
      io.stdout.write(eventTable(views));
      if (more) io.stdout.write(`(first ${views.length} shown; raise --limit for more)\n`);
    }
    return;
  }
  if (command.kind === 'score') {
    const ledger = toLedgerView(
      await client.getScoreLedger(v1.GetScoreLedgerRequest.fromPartial({ scoreId: command.scoreId })),
    );
    io.stdout.write(command.json ? json(ledger) : ledgerDetails(ledger));
    return;
  }

  let heading: string;
  let event: v1.Event | undefined;
  switch (command.kind) {
    case 'get':
      event = (await client.getEvent(v1.GetEventRequest.fromPartial({ eventId: command.id }))).event;
      heading = `Event ${command.id}`;
      break;
    case 'create':
      event = (
        await client.createEvent(
          v1.CreateEventRequest.fromPartial({ title: command.title, deadline: command.deadline }),
        )
      ).event;
      heading = `Created event ${event?.id}`;
      break;
    case 'update':
      event = (
        await client.updateEvent(
          v1.UpdateEventRequest.fromPartial({
            eventId: command.id,
            title: command.title,
            deadline: command.deadline,
          }),
        )
      ).event;
      heading = `Updated event ${command.id}`;
      break;
    case 'close':
      event = (await client.closeEvent(v1.CloseEventRequest.fromPartial({ eventId: command.id }))).event;
      heading = `Closed event ${command.id}`;
      break;
    case 'cancel':
      event = (
        await client.cancelEvent(
          v1.CancelEventRequest.fromPartial({ eventId: command.id, reason: command.reason }),
        )
      ).event;
      heading = `Cancelled event ${command.id}`;
      break;
  }
  if (!event) throw new Error('line-provider answered without an event');
  const view: EventView = toView(event);
  io.stdout.write(command.json ? json(view) : eventDetails(heading, view));
}

/**
 * The admin CLI as a function: parses `argv` (the words after the script name), runs the command, and
 * returns the exit code. Expected failures print one line on stderr; only a bug prints a stack.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (message: string, code: number) => {
    io.stderr.write(`error: ${message}\n`);
    return code;
  };
  const configOptions = { env: io.env, envFile: io.envFile ?? (io.env ? false : undefined) };

  let command: Command;
  try {
    command = parseCommand(argv, io.now?.() ?? new Date());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (argv.length === 0) {
      io.stderr.write(HELP);
      return EXIT.usage;
    }
    return fail(`${error.message}\n${usageHint(error.action)}`, EXIT.usage);
  }
  if (command.kind === 'help') {
    io.stdout.write(HELP);
    return EXIT.ok;
  }

  let settings: CliClientSettings;
  try {
    const config = loadCliConfig(configOptions);
    settings = {
      address: config.LINE_PROVIDER_ADDRESS,
      timeoutMs: config.CLI_TIMEOUT,
      tls: config.lineProviderTls,
    };
    if (ADMIN_KINDS.has(command.kind)) {
      settings.adminToken = loadCliAdminConfig(configOptions).LINE_PROVIDER_ADMIN_TOKEN;
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const admin = error.problems.some((p) => p.startsWith('LINE_PROVIDER_ADMIN_TOKEN'))
      ? `\n"${command.kind === 'score' ? 'scores show' : `events ${command.kind}`}" is an admin command: set LINE_PROVIDER_ADMIN_TOKEN to line-provider's admin token.`
      : '';
    return fail(`${error.problems.join('\n  ')}${admin}`, EXIT.usage);
  }

  const client = createCliClient(settings);
  try {
    await execute(command, client, io);
    return EXIT.ok;
  } catch (error) {
    if (isServiceError(error)) {
      return fail(describeGrpcError(error, settings.address, settings.timeoutMs), EXIT.failed);
    }
    return fail(`unexpected failure: ${error instanceof Error ? error.stack : String(error)}`, EXIT.failed);
  } finally {
    client.close();
  }
}
