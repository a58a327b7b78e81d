import * as grpc from '@grpc/grpc-js';
import { channelCredentials, v1, type ChannelTls } from '@scoreline/contracts';
import { AppError } from '@scoreline/platform';
import type { EventView } from '../domain/event-view.js';
import { eventFromProto } from './line-provider-mapping.js';

export interface LineProviderAdminOptions {
  address: string;
  /** line-provider's admin token (LINE_PROVIDER_ADMIN_TOKEN). */
  adminToken: string;
  callTimeoutMs?: number;
  /** TLS to line-provider (LINE_PROVIDER_TLS* settings); plain text when unset. */
  tls?: ChannelTls;
}

/** line-provider's answers as the API's problems: bad input stays the caller's, the rest is unavailable. */
function toAppError(error: grpc.ServiceError): AppError {
  switch (error.code) {
    case grpc.status.INVALID_ARGUMENT:
      return new AppError('VALIDATION_FAILED', error.details, { cause: error });
    case grpc.status.NOT_FOUND:
      return new AppError('EVENT_NOT_FOUND', error.details, { cause: error });
    case grpc.status.FAILED_PRECONDITION:
      return new AppError('EVENT_CLOSED', error.details, { cause: error });
    default:
      return new AppError('UNAVAILABLE', `line-provider: ${error.details}`, { cause: error });
  }
}

/** line-provider's admin calls (create, close, cancel events), for the operations console. */
export function createLineProviderAdmin(options: LineProviderAdminOptions) {
  const channel = channelCredentials(options.tls);
  const client = new v1.EventServiceClient(options.address, channel.credentials, channel.options);
  const metadata = () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${options.adminToken}`);
    return md;
  };
  const call = <Req, Res>(
    method: (
      req: Req,
      md: grpc.Metadata,
      opts: Partial<grpc.CallOptions>,
      cb: (e: grpc.ServiceError | null, r: Res) => void,
    ) => unknown,
    req: Req,
  ) =>
    new Promise<Res>((resolve, reject) => {
      const deadline = new Date(Date.now() + (options.callTimeoutMs ?? 5000));
      method(req, metadata(), { deadline }, (e, r) => (e ? reject(toAppError(e)) : resolve(r)));
    });

  return {
    async create(title: string, deadline: Date): Promise<EventView> {
      const res = await call<v1.CreateEventRequest, v1.CreateEventResponse>(
        (req, md, opts, cb) => client.createEvent(req, md, opts, cb),
        v1.CreateEventRequest.fromPartial({ title, deadline }),
      );
      return eventFromProto(res.event);
    },
    async close(eventId: number): Promise<EventView> {
      const res = await call<v1.CloseEventRequest, v1.CloseEventResponse>(
        (req, md, opts, cb) => client.closeEvent(req, md, opts, cb),
        v1.CloseEventRequest.fromPartial({ eventId }),
      );
      return eventFromProto(res.event);
    },
    async cancel(eventId: number, reason: string): Promise<EventView> {
      const res = await call<v1.CancelEventRequest, v1.CancelEventResponse>(
        (req, md, opts, cb) => client.cancelEvent(req, md, opts, cb),
        v1.CancelEventRequest.fromPartial({ eventId, reason }),
      );
      return eventFromProto(res.event);
    },
    /** line-provider's outbox backlog: unpublished rows and the age of the oldest, in seconds. */
    async outboxStatus(): Promise<{ unpublished: number; lagSeconds: number }> {
      const res = await call<v1.GetOutboxStatusRequest, v1.GetOutboxStatusResponse>(
        (req, md, opts, cb) => client.getOutboxStatus(req, md, opts, cb),
        v1.GetOutboxStatusRequest.fromPartial({}),
      );
      return { unpublished: res.unpublished, lagSeconds: res.lagSeconds };
    },
    dispose: () => client.close(),
  };
}

export type LineProviderAdmin = ReturnType<typeof createLineProviderAdmin>;
