import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export * as v1 from './v1.js';
export * as legacy from './gen/legacy/line_provider.js';

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
