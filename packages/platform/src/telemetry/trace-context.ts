import {
  context,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';

/*
 * How a trace crosses what OpenTelemetry cannot see: a W3C `traceparent` stored with an outbox row,
 * carried in a queue message, read back by the consumer. Without the SDK (no exporter configured)
 * there is never an active span, so nothing is stored and every span made here is the API's no-op one.
 */

export { SpanKind };

const TRACER = 'scoreline';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export const tracer = () => trace.getTracer(TRACER);

/** `00-<trace id>-<span id>-<flags>` of a valid span context. */
export function formatTraceparent(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The span context a `traceparent` names (marked remote), or undefined for anything malformed. */
export function parseTraceparent(value: string | null | undefined): SpanContext | undefined {
  const match = value ? TRACEPARENT.exec(value) : null;
  if (!match) return undefined;
  const span: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return trace.isSpanContextValid(span) ? span : undefined;
}

/** The trace id of a `traceparent`, for log lines and the CLI. */
export function traceIdOf(value: string | null | undefined): string | undefined {
  return parseTraceparent(value)?.traceId;
}

/** The `traceparent` of the active span, to store with an outbox row; null when nothing is traced. */
export function activeTraceparent(active: Context = context.active()): string | null {
  const span = trace.getSpanContext(active);
  return span && trace.isSpanContextValid(span) ? formatTraceparent(span) : null;
}

/** A context whose parent is the span a `traceparent` names (the root context when it names none). */
export function contextOf(value: string | null | undefined): Context {
  const span = parseTraceparent(value);
  return span ? trace.setSpanContext(ROOT_CONTEXT, span) : ROOT_CONTEXT;
}

/** The distinct valid contexts of these `traceparent`s, in first-seen order. */
function distinctContexts(values: readonly (string | null | undefined)[]): SpanContext[] {
  const seen = new Map<string, SpanContext>();
  for (const value of values) {
    const span = parseTraceparent(value);
    if (span) seen.set(`${span.traceId}-${span.spanId}`, span);
  }
  return [...seen.values()];
}

function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const message = error instanceof Error ? error.message : JSON.stringify(error);
    span.recordException(error instanceof Error ? error : message);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}

export interface BatchSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
}

/**
 * Runs `fn` in a span for a batch of messages, each carrying the context it was written in (none
 * when no message carries one).
 * When every message carries one and the same context (a batch of one, the usual case at low load),
 * the span is that context's child, so one request's trace holds the whole hop. Otherwise it starts a
 * trace of its own, linked to each message's context (OpenTelemetry's convention for batches).
 * Calls made inside `fn` (gRPC, SQL) are children of this span.
 */
export async function inBatchSpan<T>(
  name: string,
  traceparents: readonly (string | null | undefined)[],
  options: BatchSpanOptions,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const contexts = distinctContexts(traceparents);
  // Work that no traced request asked for (polling, re-drives of untraced rows) starts no trace.
  if (contexts.length === 0) return fn(trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  const single = contexts.length === 1 ? contexts[0] : undefined;
  const parent = single ? trace.setSpanContext(ROOT_CONTEXT, single) : ROOT_CONTEXT;
  const links: Link[] = contexts.map((c) => ({ context: c }));
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links, root: !single },
    parent,
  );
  try {
    const result = await context.with(trace.setSpan(parent, span), () => fn(span));
    endSpan(span);
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}

/**
 * One span per item of a batch, each the child of the item's own context and linked to the batch's
 * span, so that every item's trace shows the step that handled it. Items without a context get none.
 * Call `end(i, error?)` for each once its outcome is known.
 */
export function itemSpans(
  name: string,
  batch: Span,
  items: readonly { traceparent?: string | null; attributes?: Attributes }[],
): { end(index: number, error?: unknown): void } {
  const batchLink: Link[] = batch.isRecording() ? [{ context: batch.spanContext() }] : [];
  const spans = items.map((item) => {
    const parent = parseTraceparent(item.traceparent);
    if (!parent) return undefined;
    return tracer().startSpan(
      name,
      { kind: SpanKind.CONSUMER, attributes: item.attributes, links: batchLink },
      trace.setSpanContext(ROOT_CONTEXT, parent),
    );
  });
  return {
    end(index, error) {
      const span = spans[index];
      if (span) endSpan(span, error);
      spans[index] = undefined;
    },
  };
}
