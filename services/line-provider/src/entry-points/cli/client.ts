import * as grpc from '@grpc/grpc-js';
import { channelCredentials, v1, type ChannelTls } from '@scoreline/contracts';

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

export interface CliClientSettings {
  address: string;
  timeoutMs: number;
  adminToken?: string;
  /** TLS to line-provider (LINE_PROVIDER_TLS* settings); plain text when unset. */
  tls?: ChannelTls;
}

/** The calls the CLI makes, as promises; each carries the CLI_TIMEOUT deadline and, if given, a token. */
export function createCliClient(settings: CliClientSettings) {
  const channel = channelCredentials(settings.tls);
  const client = new v1.EventServiceClient(settings.address, channel.credentials, channel.options);

  const invoke = <Req, Res>(method: Unary<Req, Res>, request: Req) =>
    new Promise<Res>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (settings.adminToken) metadata.set('authorization', `Bearer ${settings.adminToken}`);
      method(request, metadata, { deadline: Date.now() + settings.timeoutMs }, (error, res) =>
        error ? reject(error) : resolve(res),
      );
    });

  return {
    listEvents: (req: v1.ListEventsRequest) => invoke(client.listEvents.bind(client), req),
    getEvent: (req: v1.GetEventRequest) => invoke(client.getEvent.bind(client), req),
    createEvent: (req: v1.CreateEventRequest) => invoke(client.createEvent.bind(client), req),
    updateEvent: (req: v1.UpdateEventRequest) => invoke(client.updateEvent.bind(client), req),
    closeEvent: (req: v1.CloseEventRequest) => invoke(client.closeEvent.bind(client), req),
    cancelEvent: (req: v1.CancelEventRequest) => invoke(client.cancelEvent.bind(client), req),
    getScoreLedger: (req: v1.GetScoreLedgerRequest) => invoke(client.getScoreLedger.bind(client), req),
    close: () => client.close(),
  };
}

export type CliClient = ReturnType<typeof createCliClient>;

export function isServiceError(error: unknown): error is grpc.ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<grpc.ServiceError>).code === 'number' &&
    (error as Partial<grpc.ServiceError>).metadata instanceof grpc.Metadata
  );
}

/**
 * One line that names the problem and, where the operator can fix it, how. The server's own message is
 * kept where it is meant for people (it names the field at fault); transport noise is cut short.
 */
export function describeGrpcError(error: grpc.ServiceError, address: string, timeoutMs: number): string {
  const details = error.details || grpc.status[error.code] || `status ${error.code}`;
  switch (error.code) {
    case grpc.status.UNAVAILABLE: {
      // grpc-js: "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.
      // Resolution note: ", or "Name resolution failed for target dns:…".
      const transport = /^(No connection established|Name resolution failed|Connection dropped)/.test(
        details,
      );
      if (!transport) return `line-provider at ${address} is unavailable: ${details}`;
      const cause =
        /Last error: (?:Error: )?(.*?)\.?\s*(?:Resolution note:.*)?$/.exec(details)?.[1] ??
        (details.startsWith('Name resolution failed') ? 'name resolution failed' : undefined);
      return `cannot reach line-provider at ${address} (is it running?)${cause ? `: ${cause}` : ''}`;
    }
    case grpc.status.DEADLINE_EXCEEDED:
      return `line-provider at ${address} did not answer within ${timeoutMs} ms (CLI_TIMEOUT)`;
    case grpc.status.UNAUTHENTICATED:
      return `line-provider refused the admin token (${details}): set LINE_PROVIDER_ADMIN_TOKEN to the token line-provider was started with`;
    case grpc.status.PERMISSION_DENIED:
      return `line-provider refused the call (${details}): LINE_PROVIDER_ADMIN_TOKEN holds another role's token, not the admin one`;
    case grpc.status.INVALID_ARGUMENT: {
      const field = error.metadata.get('x-invalid-field')[0];
      const named = typeof field === 'string' && !details.includes(field) ? ` (${field})` : '';
      return `invalid request: ${details}${named}`;
    }
    case grpc.status.NOT_FOUND:
      return `not found: ${details}`;
    case grpc.status.FAILED_PRECONDITION:
      return `not possible now: ${details}`;
    case grpc.status.ABORTED:
      return `conflict: ${details} (try again)`;
    default:
      return `line-provider failed (${grpc.status[error.code] ?? error.code}): ${details}`;
  }
}
