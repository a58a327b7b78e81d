import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { startTracing, tracingRequested } from '../src/telemetry/tracing.js';

describe('tracing switched on by OTEL_* variables', () => {
  it('when no exporter or endpoint is set, or the SDK is disabled, then tracing stays off', () => {
    for (const env of [
      {},
      { OTEL_SERVICE_NAME: 'x' },
      { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' },
      { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' },
    ]) {
      expect(tracingRequested(env), JSON.stringify(env)).toBe(false);
    }
  });

  it('when an exporter or an OTLP endpoint is set, then tracing is on', () => {
    for (const env of [
      { OTEL_TRACES_EXPORTER: 'otlp' },
      { OTEL_TRACES_EXPORTER: 'console' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' },
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' },
      { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' },
    ]) {
      expect(tracingRequested(env), JSON.stringify(env)).toBe(true);
    }
  });

  it('when tracing is off, then startTracing loads and registers nothing', async () => {
    expect(await startTracing('test', {})).toBeUndefined();
    // No tracer provider was registered: spans are the API's non-recording ones.
    const span = trace.getTracer('test').startSpan('nothing');
    expect(span.isRecording()).toBe(false);
    expect(trace.isSpanContextValid(span.spanContext())).toBe(false);
    span.end();
  });
});
