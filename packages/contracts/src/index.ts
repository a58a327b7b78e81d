import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export * as v1 from './v1.js';
export { EVENT_CHANGED_TOPIC } from './topics.js';
export * as legacy from './gen/legacy/line_provider.js';
// gRPC's own protocols, served next to the services above (grpc/grpc-proto, unchanged).
export * as health from './gen/grpc/health/v1/health.js';
export * as reflection from './gen/grpc/reflection/v1/reflection.js';
/** The deprecated reflection protocol, same messages as {@link reflection}; older grpcurl speaks only this. */
export * as reflectionV1alpha from './gen/grpc/reflection/v1alpha/reflection.js';

/**
 * The FileDescriptorSet of every proto file served (imports and comments included), written by
 * `buf build`. gRPC reflection should serve these exact descriptors: @grpc/reflection 1.0.4 rebuilds
 * them itself and gets map fields wrong.
 */
export const descriptorSetPath = fileURLToPath(new URL('./gen/descriptors.binpb', import.meta.url));

/** The serialized FileDescriptorSet (google.protobuf.FileDescriptorSet) at {@link descriptorSetPath}. */
export function readDescriptorSet(): Uint8Array {
  return readFileSync(descriptorSetPath);
}
export { channelCredentials, type ChannelTls } from './channel-credentials.js';
