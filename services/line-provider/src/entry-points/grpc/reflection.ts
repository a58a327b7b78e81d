import * as grpc from '@grpc/grpc-js';
import { reflection, reflectionV1alpha } from '@scoreline/contracts';
import { type DescriptorIndex, indexDescriptorSet } from './descriptor-index.js';

// v1 and v1alpha have the same messages, field for field; only the service name differs.
type Request = reflection.ServerReflectionRequest;
type Response = reflection.ServerReflectionResponse;

const reflectionServices = [reflection.ServerReflectionService, reflectionV1alpha.ServerReflectionService];

/** The fully-qualified name of a service, from its definition: `/EventService/GetEvents` → `EventService`. */
export function serviceNameOf(definition: grpc.ServiceDefinition): string {
  const path = Object.values(definition)[0]?.path;
  if (!path) throw new Error('a service definition without methods has no name');
  return path.slice(1, path.lastIndexOf('/'));
}

/**
 * Adds gRPC server reflection (grpc.reflection.v1 and the older v1alpha) to `server`, describing the
 * services named in `serviceNames` (fully qualified, e.g. `scoreline.line_provider.v1.EventService`,
 * `EventService`, `grpc.health.v1.Health`) from `descriptorSet`, a serialized FileDescriptorSet written
 * by `buf build` (readDescriptorSet() of @scoreline/contracts).
 *
 * The descriptors are served exactly as built rather than rebuilt from loaded definitions, which is what
 * @grpc/reflection 1.0.4 does, getting map fields wrong (grpcurl issue 519). Throws if a named service is
 * not in the set, so a missing proto shows at start-up rather than in a client.
 */
export function addReflection(server: grpc.Server, descriptorSet: Uint8Array, serviceNames: string[]): void {
  const index = indexDescriptorSet(descriptorSet);
  const listed = [...new Set([...serviceNames, ...reflectionServices.map(serviceNameOf)])];
  for (const name of listed) {
    if (index.fileContainingSymbol(name) === undefined) {
      throw new Error(`service ${name} is not in the descriptor set, so reflection cannot describe it`);
    }
  }

  const serverReflectionInfo: grpc.handleBidiStreamingCall<Request, Response> = (call) => {
    call.on('data', (request: Request) => {
      call.write({ validHost: request.host, originalRequest: request, ...answer(index, listed, request) });
    });
    call.on('end', () => call.end());
    // A client that goes away mid-stream is no error of ours; grpc-js has already ended the call.
    call.on('error', () => undefined);
  };
  for (const service of reflectionServices) server.addService(service, { serverReflectionInfo });
}

type Answer = Omit<Response, 'validHost' | 'originalRequest'>;

function answer(index: DescriptorIndex, services: string[], request: Request): Answer {
  if (request.listServices !== undefined) {
    return { listServicesResponse: { service: services.map((name) => ({ name })) } };
  }
  if (request.fileByFilename !== undefined) {
    return files(index, request.fileByFilename, `file ${request.fileByFilename}`);
  }
  if (request.fileContainingSymbol !== undefined) {
    const symbol = request.fileContainingSymbol;
    return files(index, index.fileContainingSymbol(symbol), `symbol ${symbol}`);
  }
  if (request.fileContainingExtension !== undefined) {
    const { containingType, extensionNumber } = request.fileContainingExtension;
    const file = index.extensionsOf(containingType)?.get(extensionNumber);
    return files(index, file, `extension ${extensionNumber} of ${containingType}`);
  }
  if (request.allExtensionNumbersOfType !== undefined) {
    const type = request.allExtensionNumbersOfType;
    const numbers = index.extensionsOf(type);
    if (!numbers) return notFound(`message type ${type}`);
    return { allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: [...numbers.keys()] } };
  }
  return {
    errorResponse: { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: 'the request asks for nothing' },
  };
}

function files(index: DescriptorIndex, fileName: string | undefined, what: string): Answer {
  const found = fileName === undefined ? undefined : index.fileWithDependencies(fileName);
  if (!found) return notFound(what);
  return { fileDescriptorResponse: { fileDescriptorProto: found.map((bytes) => Buffer.from(bytes)) } };
}

function notFound(what: string): Answer {
  return { errorResponse: { errorCode: grpc.status.NOT_FOUND, errorMessage: `${what} not found` } };
}
