import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { health, legacy, readDescriptorSet, reflection, reflectionV1alpha, v1 } from '@scoreline/contracts';
import { waitFor } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealth } from '../src/entry-points/grpc/health.js';
import { addReflection, serviceNameOf } from '../src/entry-points/grpc/reflection.js';

const buf = fileURLToPath(new URL('../../../node_modules/.bin/buf', import.meta.url));
const { SERVING, NOT_SERVING } = health.HealthCheckResponse_ServingStatus;
const intervalMs = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Asynchronous on purpose: the server under test runs in this process, so a blocking spawn would hang it.
async function bufCurl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    buf,
    ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args],
    { timeout: 20_000 },
  );
  return stdout;
}

function unimplemented(definition: grpc.ServiceDefinition): grpc.UntypedServiceImplementation {
  const reject: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' });
  return Object.fromEntries(Object.keys(definition).map((name) => [name, reject]));
}

describe('gRPC health and reflection', () => {
  let databaseUp = true;
  const healthService = createHealth(
    {
      database: async () => {
        if (!databaseUp) throw new Error('database down');
      },
    },
    { intervalMs },
  );
  const server = new grpc.Server();
  let address = '';
  let url = '';

  beforeAll(async () => {
    server.addService(v1.EventServiceService, unimplemented(v1.EventServiceService));
    server.addService(legacy.EventServiceService, {
      getEvents: (_call, callback) => callback(null, { events: [] }),
      updateEventStatusByScore: (_call, callback) => callback(null, { success: false }),
    } satisfies legacy.EventServiceServer);
    const served = [v1.EventServiceService, legacy.EventServiceService].map(serviceNameOf);
    healthService.addTo(server, served);
    addReflection(server, readDescriptorSet(), [...served, serviceNameOf(health.HealthService)]);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
    url = `http://${address}`;
    healthService.start();
  });

  afterAll(() => {
    healthService.stop();
    server.forceShutdown();
  });

  it('when buf curl lists methods through reflection, then every method of all four services is there', async () => {
    const methods = (definition: grpc.ServiceDefinition) =>
      Object.values(definition).map((method) => method.path.slice(1));
    const expected = [
      ...methods(v1.EventServiceService),
      ...methods(legacy.EventServiceService),
      ...methods(health.HealthService),
      ...methods(reflection.ServerReflectionService),
      ...methods(reflectionV1alpha.ServerReflectionService),
    ];

    const listed = (await bufCurl('--list-methods', url)).trim().split('\n');

    expect(expected).toHaveLength(12 + 2 + 3 + 1 + 1);
    expect(listed.sort()).toEqual(expected.sort());
  });

  it('when the legacy GetEvents is called through reflection, then it answers a JSON object', async () => {
    const output = await bufCurl('-d', '{}', `${url}/EventService/GetEvents`);

    expect(JSON.parse(output)).toEqual({});
  });

  it('when buf curl speaks only v1alpha reflection, then it still finds the v1 service', async () => {
    const output = await bufCurl('--reflect-protocol', 'grpc-v1alpha', '--list-methods', url);

    expect(output).toContain('scoreline.line_provider.v1.EventService/ApplyScore');
  });

  it('when Check is called and the database answers, then it is SERVING; when it stops, NOT_SERVING', async () => {
    const checkUrl = `${url}/grpc.health.v1.Health/Check`;
    expect(JSON.parse(await bufCurl('-d', '{}', checkUrl))).toEqual({ status: 'SERVING' });
    expect(
      JSON.parse(await bufCurl('-d', '{"service":"scoreline.line_provider.v1.EventService"}', checkUrl)),
    ).toEqual({ status: 'SERVING' });

    databaseUp = false;
    await sleep(intervalMs * 1.5);
    try {
      expect(JSON.parse(await bufCurl('-d', '{}', checkUrl))).toEqual({ status: 'NOT_SERVING' });
    } finally {
      databaseUp = true;
    }
  });

  describe('with a grpc-js client', () => {
    const clients: grpc.Client[] = [];
    const client = <T extends grpc.Client>(
      Client: new (address: string, c: grpc.ChannelCredentials) => T,
    ) => {
      const made = new Client(address, grpc.credentials.createInsecure());
      clients.push(made);
      return made;
    };
    afterAll(() => clients.forEach((c) => c.close()));

    async function ask(request: Partial<reflection.ServerReflectionRequest>) {
      const stream = client(reflection.ServerReflectionClient).serverReflectionInfo();
      const response = new Promise<reflection.ServerReflectionResponse>((resolve, reject) => {
        stream.once('data', resolve);
        stream.once('error', reject);
      });
      stream.end(reflection.ServerReflectionRequest.fromPartial(request));
      return response;
    }
    const fileNames = (response: reflection.ServerReflectionResponse) =>
      (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map(
        (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
      );

    it('when a v1 method is asked for, then its file comes with comments and with its imports', async () => {
      const response = await ask({
        fileContainingSymbol: 'scoreline.line_provider.v1.EventService.ApplyScore',
      });

      const [file, ...rest] = (response.fileDescriptorResponse?.fileDescriptorProto ?? []).map((bytes) =>
        fromBinary(FileDescriptorProtoSchema, bytes),
      );
      expect(file?.name).toBe('scoreline/line_provider/v1/event_service.proto');
      const comments = file?.sourceCodeInfo?.location.map((l) => l.leadingComments).join('\n');
      expect(comments).toContain('Idempotent on (score_id, version)');
      expect(rest.map((f) => f.name)).toContain('google/protobuf/timestamp.proto');
    });

    it('when package-less legacy symbols and nested ones are asked for, then their files are found', async () => {
      for (const symbol of ['EventService', 'GetEventsRequest', 'STATUS_HIGH_SCORE', 'Event.deadline']) {
        expect(fileNames(await ask({ fileContainingSymbol: symbol }))[0], symbol).toBe(
          'legacy/line_provider.proto',
        );
      }
      const nested = await ask({ fileContainingSymbol: 'grpc.health.v1.HealthListResponse.StatusesEntry' });
      expect(fileNames(nested)).toEqual(['grpc/health/v1/health.proto']);
    });

    it('when an unknown symbol or file is asked for, then the answer is a NOT_FOUND error', async () => {
      for (const request of [{ fileContainingSymbol: 'nope.Nothing' }, { fileByFilename: 'nope.proto' }]) {
        const response = await ask(request);
        expect(response.errorResponse?.errorCode).toBe(grpc.status.NOT_FOUND);
        expect(response.originalRequest).toMatchObject(request);
      }
    });

    it('when Check names an unknown service, then it fails with NOT_FOUND', async () => {
      const error = await new Promise<grpc.ServiceError | null>((resolve) =>
        client(health.HealthClient).check({ service: 'no.such.Service' }, (e) => resolve(e)),
      );

      expect(error?.code).toBe(grpc.status.NOT_FOUND);
    });

    // Last: it stops the health service.
    it('when Watch runs, then it streams each change and ends when health stops', async () => {
      const statuses: health.HealthCheckResponse_ServingStatus[] = [];
      const watch = client(health.HealthClient).watch({ service: '' });
      const ended = new Promise<void>((resolve, reject) => {
        watch.on('data', (response: health.HealthCheckResponse) => statuses.push(response.status));
        watch.on('end', resolve);
        watch.on('error', reject);
      });
      await waitFor(() => statuses.at(-1) === SERVING, { what: 'SERVING streamed' });
      databaseUp = false;
      await waitFor(() => statuses.at(-1) === NOT_SERVING, { what: 'NOT_SERVING streamed' });
      healthService.stop();
      await ended;

      // Only changes are streamed (an earlier test may have left a NOT_SERVING probe to be replaced).
      expect(statuses.slice(-2)).toEqual([SERVING, NOT_SERVING]);
      expect(statuses.filter((status, i) => status === statuses[i - 1])).toEqual([]);
    });
  });
});
