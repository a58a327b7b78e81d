import { createServer, type Server } from 'node:http';
import { testServices, waitFor } from '@scoreline/platform/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { openTopology, type Topology } from './topology-processes.js';
import { cli, readScore, run } from './walkthrough.js';

const missing = !testServices().postgresUrl || !testServices().redisUrl;

/** One span as OTLP/HTTP JSON carries it (ids in hex), with the service that sent it. */
interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  links: { traceId: string; spanId: string }[];
}

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

/** An OTLP/HTTP receiver (JSON encoding) keeping every span it is sent. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.url === '/v1/traces') {
        const data = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: Omit<ReceivedSpan, 'service'>[] }[];
          }[];
        };
        for (const rs of data.resourceSpans) {
          const service =
            rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              spans.push({
                service,
                name: s.name,
                kind: s.kind,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
              });
            }
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The production entry points as separate processes, exporting their spans over OTLP/HTTP. */
describe.skipIf(missing)(
  `tracing across the topology${missing ? ' [skipped: needs PostgreSQL and Redis]' : ''}`,
  () => {
    let topology: Topology | undefined;
    let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
    afterAll(async () => {
      await topology?.dispose();
      await receiver?.close();
    });

    it('when a score is submitted, then one trace holds the request, the relay, the saga step, line-provider and the EventChanged consumer', async () => {
      receiver = await startReceiver();
      topology = await openTopology('tracing', {
        // Only the standard variables: an endpoint switches tracing on.
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      });
      const { env, procs, start } = topology;
      await start('services/line-provider/src/main.ts', 'line-provider listening');
      await start('services/score-maker/src/main-worker.ts', 'score-maker worker started');
      await start('services/score-maker/src/main-api.ts', 'score-maker API listening');

      const created = await cli(
        ['events', 'create', '--title', 'Traced match', '--deadline', '+1d'],
        topology.cliEnv,
      );
      expect(created.code).toBe(0);
      const eventId = Number(/\b(\d+)\b/.exec(created.out)?.[1]);
      const token = await topology.token('tracer');
      const api = topology.api;
      const response = await fetch(`${api}/events/${eventId}/score`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ score: 4 }),
      });
      expect(response.status).toBe(202);
      const { id: scoreId } = (await response.json()) as { id: string };
      await waitFor(
        async () =>
          (await readScore({ api, token, cliEnv: {} }, scoreId)).status === 'CONFIRMED' ? true : undefined,
        { what: 'the score confirmed', timeoutMs: 30_000 },
      );

      const spans = receiver.spans;
      const request = await waitFor(
        () =>
          spans.find(
            (s) => s.service === 'score-maker-api' && s.kind === SERVER && s.name.startsWith('POST'),
          ),
        { what: 'the API request span', timeoutMs: 15_000 },
      );
      const inTrace = (service: string, kind: number, name: (n: string) => boolean) =>
        spans.find(
          (s) => s.traceId === request.traceId && s.service === service && s.kind === kind && name(s.name),
        );
      const found = await waitFor(
        () => {
          const hop = {
            publish: inTrace('score-maker-worker', PRODUCER, (n) => n === 'outbox publish'),
            batch: inTrace('score-maker-worker', CONSUMER, (n) => n === 'saga apply'),
            step: inTrace('score-maker-worker', CONSUMER, (n) => n === 'saga apply step'),
            call: inTrace('score-maker-worker', CLIENT, (n) => n.endsWith('EventService/ApplyScores')),
            server: inTrace('line-provider', SERVER, (n) => n.endsWith('EventService/ApplyScores')),
            lpPublish: inTrace('line-provider', PRODUCER, (n) => n === 'outbox publish'),
            consumer: inTrace(
              'score-maker-worker',
              CONSUMER,
              (n) => n === 'process line-provider.event-changed',
            ),
          };
          return Object.values(hop).every(Boolean)
            ? (hop as { [K in keyof typeof hop]: ReceivedSpan })
            : undefined;
        },
        {
          what: `every hop in trace ${request.traceId}; received: ${JSON.stringify(spans.map((s) => [s.service, s.name]))}`,
          timeoutMs: 20_000,
        },
      );

      // T1's outbox row carries the request's context: the relay's publish and the saga's batch (a
      // batch of this one score) are the request span's children, and so is the step's own span,
      // linked to its batch.
      expect(found.publish.parentSpanId).toBe(request.spanId);
      expect(found.batch.parentSpanId).toBe(request.spanId);
      expect(found.batch.links).toContainEqual({ traceId: request.traceId, spanId: request.spanId });
      expect(found.step.parentSpanId).toBe(request.spanId);
      expect(found.step.links).toContainEqual({ traceId: request.traceId, spanId: found.batch.spanId });
      // ApplyScores goes out under the batch, and line-provider's server span continues the client's.
      expect(found.call.parentSpanId).toBe(found.batch.spanId);
      expect(found.server.parentSpanId).toBe(found.call.spanId);
      // line-provider's EventChanged row carries its server span's context, through its relay and the
      // queue, to score-maker's consumer.
      expect(found.lpPublish.parentSpanId).toBe(found.server.spanId);
      expect(found.consumer.parentSpanId).toBe(found.server.spanId);
      // The database work of T2 is in the trace too (pg instrumentation), under the server span.
      expect(
        spans.some(
          (s) =>
            s.traceId === request.traceId &&
            s.service === 'line-provider' &&
            s.parentSpanId === found.server.spanId,
        ),
      ).toBe(true);

      // The operator's way in: `npm run sagas -- show` names the trace of the score's latest submission.
      const show = run('services/score-maker/src/entry-points/cli/sagas.ts', env, ['show', scoreId]);
      expect(await show.exited, show.output()).toBe(0);
      expect(show.output()).toContain(`  trace        ${request.traceId}\n`);

      // SIGTERM flushes what is buffered and still exits cleanly.
      for (const proc of procs.splice(0).reverse()) expect(await proc.stop(), proc.output()).toBe(0);
    }, 180_000);
  },
);
