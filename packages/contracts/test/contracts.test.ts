import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import {
  type DescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FieldDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { legacy, readDescriptorSet, v1 } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function descriptorFile(name: string) {
  const file = fromBinary(FileDescriptorSetSchema, readDescriptorSet()).file.find((f) => f.name === name);
  if (!file) throw new Error(`${name} is not in descriptors.binpb`);
  return file;
}

const shapeOf = (message: DescriptorProto) => ({
  name: message.name,
  fields: message.field.map((f) => ({
    name: f.name,
    number: f.number,
    type: f.type,
    label: f.label,
    typeName: f.typeName,
  })),
});
const singular = (name: string, number: number, type: Type, typeName = '') => ({
  name,
  number,
  type,
  label: Label.OPTIONAL,
  typeName,
});

describe('descriptors.binpb', () => {
  it('when the legacy file is read, then its names, numbers and types are exactly the original ones', () => {
    const file = descriptorFile('legacy/line_provider.proto');

    expect(file.package).toBe('');
    expect(file.syntax).toBe('proto3');
    expect(file.dependency).toEqual(['google/protobuf/timestamp.proto']);
    expect(
      file.service.map((s) => ({
        name: s.name,
        methods: s.method.map((m) => [m.name, m.inputType, m.outputType]),
      })),
    ).toEqual([
      {
        name: 'EventService',
        methods: [
          ['GetEvents', '.GetEventsRequest', '.GetEventsResponse'],
          [
            'UpdateEventStatusByScore',
            '.UpdateEventStatusByScoreRequest',
            '.UpdateEventStatusByScoreResponse',
          ],
        ],
      },
    ]);
    expect(
      file.enumType.map((e) => ({ name: e.name, values: e.value.map((v) => [v.name, v.number]) })),
    ).toEqual([
      {
        name: 'StatusEnum',
        values: [
          ['STATUS_PROCESSING', 0],
          ['STATUS_LOW_SCORE', 1],
          ['STATUS_HIGH_SCORE', 2],
        ],
      },
    ]);
    expect(file.messageType.map(shapeOf)).toEqual([
      {
        name: 'Event',
        fields: [
          singular('event_id', 1, Type.INT32),
          singular('deadline', 2, Type.MESSAGE, '.google.protobuf.Timestamp'),
          singular('status', 3, Type.ENUM, '.StatusEnum'),
        ],
      },
      { name: 'GetEventsRequest', fields: [] },
      {
        name: 'GetEventsResponse',
        fields: [
          { name: 'events', number: 1, type: Type.MESSAGE, label: Label.REPEATED, typeName: '.Event' },
        ],
      },
      {
        name: 'UpdateEventStatusByScoreRequest',
        fields: [singular('event_id', 1, Type.INT32), singular('score', 2, Type.INT32)],
      },
      { name: 'UpdateEventStatusByScoreResponse', fields: [singular('success', 1, Type.BOOL)] },
    ]);
  });

  it('when the set is read, then it holds the imports and the comments reflection needs', () => {
    descriptorFile('google/protobuf/timestamp.proto');
    const service = descriptorFile('scoreline/line_provider/v1/event_service.proto');

    const comments = service.sourceCodeInfo?.location.map((l) => l.leadingComments).join('\n') ?? '';
    expect(comments).toContain('Idempotent on (score_id, version)');
  });

  it('when the set is read, then it holds gRPC health with its map field as protoc describes it', () => {
    const file = descriptorFile('grpc/health/v1/health.proto');

    expect(file.package).toBe('grpc.health.v1');
    expect(
      file.service.map((s) => [s.name, s.method.map((m) => [m.name, m.inputType, m.serverStreaming])]),
    ).toEqual([
      [
        'Health',
        [
          ['Check', '.grpc.health.v1.HealthCheckRequest', false],
          ['List', '.grpc.health.v1.HealthListRequest', false],
          ['Watch', '.grpc.health.v1.HealthCheckRequest', true],
        ],
      ],
    ]);
    const status = file.messageType.find((m) => m.name === 'HealthCheckResponse')?.enumType[0];
    expect(status?.value.map((v) => [v.name, v.number])).toEqual([
      ['UNKNOWN', 0],
      ['SERVING', 1],
      ['NOT_SERVING', 2],
      ['SERVICE_UNKNOWN', 3],
    ]);
    // The map's entry message is what @grpc/reflection 1.0.4 names wrongly (grpcurl issue 519).
    const list = file.messageType.find((m) => m.name === 'HealthListResponse');
    expect(list?.field.map((f) => [f.name, f.number, f.typeName])).toEqual([
      ['statuses', 1, '.grpc.health.v1.HealthListResponse.StatusesEntry'],
    ]);
    expect(list?.nestedType.map((m) => [m.name, m.options?.mapEntry])).toEqual([['StatusesEntry', true]]);
  });

  it.each(['v1', 'v1alpha'])(
    'when the set is read, then it holds gRPC reflection %s with the standard field numbers',
    (version) => {
      const file = descriptorFile(`grpc/reflection/${version}/reflection.proto`);
      const fields = (name: string) => {
        const message = file.messageType.find((m) => m.name === name);
        const oneof = (f: FieldDescriptorProto) =>
          isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex)
            ? message?.oneofDecl[f.oneofIndex]?.name
            : undefined;
        return message?.field.map((f) => [f.name, f.number, oneof(f)]);
      };

      expect(file.package).toBe(`grpc.reflection.${version}`);
      expect(
        file.service.map((s) => s.method.map((m) => [s.name, m.name, m.clientStreaming, m.serverStreaming])),
      ).toEqual([[['ServerReflection', 'ServerReflectionInfo', true, true]]]);
      expect(fields('ServerReflectionRequest')).toEqual([
        ['host', 1, undefined],
        ['file_by_filename', 3, 'message_request'],
        ['file_containing_symbol', 4, 'message_request'],
        ['file_containing_extension', 5, 'message_request'],
        ['all_extension_numbers_of_type', 6, 'message_request'],
        ['list_services', 7, 'message_request'],
      ]);
      expect(fields('ServerReflectionResponse')).toEqual([
        ['valid_host', 1, undefined],
        ['original_request', 2, undefined],
        ['file_descriptor_response', 4, 'message_response'],
        ['all_extension_numbers_response', 5, 'message_response'],
        ['list_services_response', 6, 'message_response'],
        ['error_response', 7, 'message_response'],
      ]);
      expect(fields('FileDescriptorResponse')).toEqual([['file_descriptor_proto', 1, undefined]]);
      expect(fields('ErrorResponse')).toEqual([
        ['error_code', 1, undefined],
        ['error_message', 2, undefined],
      ]);
    },
  );
});

describe('generated code', () => {
  it('when a legacy request is encoded, then the bytes are the hand-built wire encoding', () => {
    const bytes = legacy.UpdateEventStatusByScoreRequest.encode({ eventId: 7, score: 3 }).finish();

    expect([...bytes]).toEqual([0x08, 0x07, 0x10, 0x03]);
    expect(legacy.UpdateEventStatusByScoreRequest.decode(bytes)).toEqual({ eventId: 7, score: 3 });
  });

  it('when a legacy event with a deadline is encoded, then the timestamp is a nested message', () => {
    const event = { eventId: 1, deadline: new Date(1000), status: legacy.StatusEnum.STATUS_HIGH_SCORE };

    // 08 01 | 12 02 {08 01 = seconds 1} | 18 02
    expect([...legacy.Event.encode(event).finish()]).toEqual([
      0x08, 0x01, 0x12, 0x02, 0x08, 0x01, 0x18, 0x02,
    ]);
  });

  it('when the service definitions are read, then they expose the v1 and the legacy method paths', () => {
    const paths = (service: Record<string, { path: string }>) => Object.values(service).map((m) => m.path);

    expect(paths(v1.EventServiceService)).toEqual(
      [
        'ListEvents',
        'GetEvent',
        'CreateEvent',
        'UpdateEvent',
        'CloseEvent',
        'CancelEvent',
        'GetOutboxStatus',
        'GetScoreLedger',
        'ApplyScore',
        'RevertScore',
        'ApplyScores',
        'RevertScores',
      ].map((name) => `/scoreline.line_provider.v1.EventService/${name}`),
    );
    expect(paths(legacy.EventServiceService)).toEqual([
      '/EventService/GetEvents',
      '/EventService/UpdateEventStatusByScore',
    ]);
  });

  it('when an event goes through encode and decode, then it comes back equal, with dates and numbers', () => {
    const event = v1.Event.fromPartial({
      id: 42,
      title: 'Final',
      deadline: new Date('2030-01-02T03:04:05.678Z'),
      state: v1.EventState.EVENT_STATE_OPEN,
      status: v1.EventStatus.EVENT_STATUS_HIGH_SCORE,
      scores: { count: 3, sum: 11, average: 11 / 3, histogram: [0, 0, 1, 1, 1] },
      version: 9_007_199_254_740_991,
      createdAt: new Date('2029-12-31T00:00:00Z'),
      updatedAt: new Date('2030-01-01T00:00:00Z'),
    });

    const decoded = v1.Event.decode(v1.Event.encode(event).finish());

    expect(decoded).toEqual(event);
    expect(decoded.deadline).toBeInstanceOf(Date);
  });

  it('when a generated client calls a generated server, then the legacy call goes through grpc-js', async () => {
    const server = new Server();
    server.addService(legacy.EventServiceService, {
      getEvents: (_call, callback) => callback(null, { events: [] }),
      updateEventStatusByScore: (call, callback) =>
        callback(null, { success: call.request.score >= 1 && call.request.score <= 5 }),
    } satisfies legacy.EventServiceServer);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    const client = new legacy.EventServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const reply = await new Promise<legacy.UpdateEventStatusByScoreResponse>((resolve, reject) =>
        client.updateEventStatusByScore({ eventId: 7, score: 3 }, (error, r) =>
          error ? reject(error) : resolve(r),
        ),
      );
      expect(reply).toEqual({ success: true });
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});

describe('generate:check', () => {
  const runCheck = (...args: string[]) =>
    spawnSync(process.execPath, ['scripts/generate.mjs', '--check', ...args], {
      cwd: packageDir,
      encoding: 'utf8',
    });

  it('when the committed code is current, then the check passes', { timeout: 60_000 }, () => {
    const result = runCheck();

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it(
    'when a generated file is altered or left over, then the check fails naming it',
    { timeout: 60_000 },
    () => {
      const copy = mkdtempSync(join(tmpdir(), 'contracts-check-'));
      try {
        cpSync(join(packageDir, 'src/gen'), copy, { recursive: true });
        appendFileSync(join(copy, 'legacy/line_provider.ts'), '// edited by hand\n');
        writeFileSync(join(copy, 'leftover.ts'), '');

        const result = runCheck('--against', copy);

        expect(result.status).toBe(1);
        expect(result.stderr).toContain('differs: legacy/line_provider.ts');
        expect(result.stderr).toContain('not generated any more: leftover.ts');
        expect(result.stderr).toContain('npm run generate');
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    },
  );
});
