import * as grpc from '@grpc/grpc-js';
import { channelCredentials, v1, type ChannelTls } from '@scoreline/contracts';
import type { RecordedApplyOutcome, RejectReason, RevertOutcome } from '@scoreline/contracts/scores';
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

/** What line-provider recorded for one version of a score (enum values without their prefixes). */
export interface LedgerVersion {
  version: number;
  /** null for a tombstone: RevertScore came before any ApplyScore of this version. */
  rate: number | null;
  applyOutcome: RecordedApplyOutcome | null;
  rejectReason: RejectReason | null;
  revertOutcome: RevertOutcome | null;
  recordedAt: Date | null;
}

/** line-provider's ledger of one score (GetScoreLedger). */
export interface ScoreLedger {
  /** null when all line-provider has seen of the score is RevertScore. */
  eventId: number | null;
  userId: string | null;
  maxVersion: number;
  appliedVersion: number;
  appliedRate: number | null;
  updatedAt: Date | null;
  versions: LedgerVersion[];
}

/** `APPLY_SCORE_OUTCOME_APPLIED` → `APPLIED`; the UNSPECIFIED value → null. */
function enumName<T extends string>(json: string, prefix: string): T | null {
  const name = json.startsWith(prefix) ? json.slice(prefix.length) : json;
  return name === 'UNSPECIFIED' || name === 'UNRECOGNIZED' ? null : (name as T);
}

function ledgerFromProto(res: v1.GetScoreLedgerResponse): ScoreLedger {
  return {
    eventId: res.eventId || null,
    userId: res.userId || null,
    maxVersion: res.maxVersion,
    appliedVersion: res.appliedVersion,
    appliedRate: res.appliedRate || null,
    updatedAt: res.updatedAt ?? null,
    versions: res.versions.map((v) => ({
      version: v.version,
      rate: v.rate || null,
      applyOutcome: enumName(v1.applyScoreOutcomeToJSON(v.applyOutcome), 'APPLY_SCORE_OUTCOME_'),
      rejectReason: enumName(v1.scoreRejectReasonToJSON(v.rejectReason), 'SCORE_REJECT_REASON_'),
      revertOutcome: enumName(v1.revertScoreOutcomeToJSON(v.revertOutcome), 'REVERT_SCORE_OUTCOME_'),
      recordedAt: v.recordedAt ?? null,
    })),
  };
}

/**
 * line-provider's admin calls: create, close, cancel events and the outbox backlog (the operations
 * console), one score's ledger (`npm run sagas -- show`).
 */
export function createLineProviderAdmin(options: LineProviderAdminOptions) {
  const channel = channelCredentials(options.tls);
  const client = new v1.EventServiceClient(options.address, channel.credentials, channel.options);
  const metadata = () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${options.adminToken}`);
    return md;
  };
  /** Rejects with line-provider's gRPC error as it is. */
  const rawCall = <Req, Res>(
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
      method(req, metadata(), { deadline }, (e, r) => (e ? reject(e) : resolve(r)));
    });
  const call: typeof rawCall = (method, req) =>
    rawCall(method, req).catch((e: grpc.ServiceError) => {
      throw toAppError(e);
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
    /**
     * line-provider's ledger of one score (GetScoreLedger), or null when it has no record of the score.
     * A refused token keeps its code (UNAUTHENTICATED, PERMISSION_DENIED), so that it is told apart from
     * line-provider being unreachable (UNAVAILABLE).
     */
    async scoreLedger(scoreId: string): Promise<ScoreLedger | null> {
      try {
        const res = await rawCall<v1.GetScoreLedgerRequest, v1.GetScoreLedgerResponse>(
          (req, md, opts, cb) => client.getScoreLedger(req, md, opts, cb),
          v1.GetScoreLedgerRequest.fromPartial({ scoreId }),
        );
        return ledgerFromProto(res);
      } catch (error) {
        const e = error as grpc.ServiceError;
        if (e.code === grpc.status.NOT_FOUND) return null;
        if (e.code === grpc.status.UNAUTHENTICATED || e.code === grpc.status.PERMISSION_DENIED) {
          throw new AppError(
            e.code === grpc.status.UNAUTHENTICATED ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED',
            e.details,
            {
              cause: e,
            },
          );
        }
        throw toAppError(e);
      }
    },
    dispose: () => client.close(),
  };
}

export type LineProviderAdmin = ReturnType<typeof createLineProviderAdmin>;
