import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activeTraceparent, inBatchSpan, itemSpans, parseTraceparent } from '../src/index.js';

const A = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const B = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** The batch helpers with the real SDK registered in this process, spans kept in memory. */
describe('spans of a batch of messages', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
  });
  afterAll(() => {
    trace.disable();
    context.disable();
    propagation.disable();
  });
  beforeEach(() => exporter.reset());

  const spanNamed = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

  it('when every message carries one context, then the batch span is its child and work inside it is the batch span’s child', async () => {
    let inside: string | null = null;
    await inBatchSpan('batch', [A, A, undefined], {}, async () => {
      inside = activeTraceparent();
    });
    const [batch] = spanNamed('batch');
    expect(batch!.spanContext().traceId).toBe(parseTraceparent(A)!.traceId);
    expect(batch!.parentSpanContext?.spanId).toBe(parseTraceparent(A)!.spanId);
    expect(parseTraceparent(inside)?.spanId).toBe(batch!.spanContext().spanId);
  });

  it('when messages carry several contexts, then the batch starts its own trace linked to each, and each item’s span is in its own trace, linked to the batch', async () => {
    await inBatchSpan('batch', [A, B, A], {}, async (span) => {
      const items = itemSpans('item', span, [
        { traceparent: A },
        { traceparent: B },
        { traceparent: undefined },
      ]);
      items.end(0);
      items.end(1, new Error('retried'));
      items.end(2);
    });
    const [batch] = spanNamed('batch');
    expect(batch!.parentSpanContext).toBeUndefined();
    expect(batch!.spanContext().traceId).not.toBe(parseTraceparent(A)!.traceId);
    expect(batch!.links.map((l) => l.context.traceId)).toEqual([
      parseTraceparent(A)!.traceId,
      parseTraceparent(B)!.traceId,
    ]);

    const items = spanNamed('item');
    expect(items).toHaveLength(2); // the item without a context gets no span
    for (const [i, tp] of [A, B].entries()) {
      const item = items.find((s) => s.spanContext().traceId === parseTraceparent(tp)!.traceId)!;
      expect(item.parentSpanContext?.spanId).toBe(parseTraceparent(tp)!.spanId);
      expect(item.links.map((l) => l.context.spanId)).toEqual([batch!.spanContext().spanId]);
      expect(item.status.code).toBe(i === 1 ? 2 : 0); // ERROR for the retried one
    }
  });

  it('when no message carries a context, then no span is made', async () => {
    await inBatchSpan('batch', [undefined, null], {}, async () => undefined);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
