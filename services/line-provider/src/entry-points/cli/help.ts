/** The CLI's help text, and the one-line usage of each command that a usage error points to. */

export const PROGRAM = 'npm run cli --';

export const USAGE = {
  create: `${PROGRAM} events create --title <text> --deadline <when> [--json]`,
  list: `${PROGRAM} events list [--state open|closed|cancelled|all] [--limit N] [--json]`,
  get: `${PROGRAM} events get <id> [--json]`,
  update: `${PROGRAM} events update <id> [--title <text>] [--deadline <when>] [--json]`,
  close: `${PROGRAM} events close <id> [--json]`,
  cancel: `${PROGRAM} events cancel <id> [--reason <text>] [--json]`,
  show: `${PROGRAM} scores show <score id> [--json]`,
} as const;

export type Action = keyof typeof USAGE;

export const HELP = `line-provider admin CLI: manage events, look scores up, over gRPC.

Usage:
  ${USAGE.create}
  ${USAGE.list}
  ${USAGE.get}
  ${USAGE.update}
  ${USAGE.close}
  ${USAGE.cancel}
  ${USAGE.show}
  ${PROGRAM} help

Commands:
  events create   Create an OPEN event.                                      (admin)
  events list     List events in id order. --state defaults to all, --limit to 50.
  events get      Show one event.
  events update   Change an OPEN event's title and/or deadline.              (admin)
  events close    Close an event now; its scores become final.               (admin)
  events cancel   Cancel an event; it takes no more scores.                  (admin)
  scores show     A score's version in effect and what each version got.     (admin)

<when> (--deadline):
  2026-12-01T18:00:00Z        ISO-8601 date-time with a zone (Z or an offset such as +02:00)
  2026-12-01                  a date alone means 00:00 UTC that day
  +30m, +2h, +3d, +45s        that long from now

Options:
  --json        print JSON instead of text (events list prints an array)
  -h, --help    show this help

Settings (environment, or a .env file in the current folder):
  LINE_PROVIDER_ADDRESS       host:port of line-provider's gRPC server (default 127.0.0.1:50051)
  LINE_PROVIDER_ADMIN_TOKEN   admin token, needed by the (admin) commands only
  CLI_TIMEOUT                 deadline of each call, e.g. 500ms, 10s, 1m (default 10s)
  LINE_PROVIDER_TLS_CA_FILE   TLS: CA of line-provider's certificate; also LINE_PROVIDER_TLS,
                              LINE_PROVIDER_TLS_SERVER_NAME, LINE_PROVIDER_CLIENT_CERT_FILE and
                              LINE_PROVIDER_CLIENT_KEY_FILE (docs/security.md)

Exit codes: 0 done; 1 the call failed (line-provider unreachable, refused, not found, …);
2 usage or settings error.
`;

export function usageHint(action?: Action): string {
  const usage = action ? `usage: ${USAGE[action]}\n` : '';
  return `${usage}Run "${PROGRAM} help" for every command and option.`;
}
