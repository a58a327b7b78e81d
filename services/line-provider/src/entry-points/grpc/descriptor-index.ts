import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';

/** Lookups gRPC server reflection needs, over one FileDescriptorSet (as `buf build` writes it). */
export interface DescriptorIndex {
  /**
   * The serialized FileDescriptorProto of the named file followed by those of every file it imports,
   * transitively (clients need them all to build the file); undefined for a file not in the set.
   */
  fileWithDependencies(fileName: string): Uint8Array[] | undefined;
  /**
   * The file declaring a fully-qualified symbol, without the leading dot: a service, method, message
   * (nested ones too), field, oneof, enum, enum value or extension. Package-less files declare
   * package-less symbols (`EventService`, `GetEventsRequest`).
   */
  fileContainingSymbol(symbol: string): string | undefined;
  /** Extension numbers of a message type, each with its declaring file; undefined for an unknown type. */
  extensionsOf(messageType: string): ReadonlyMap<number, string> | undefined;
}

export function indexDescriptorSet(descriptorSet: Uint8Array): DescriptorIndex {
  const files = new Map<string, { bytes: Uint8Array; dependencies: string[] }>();
  const symbols = new Map<string, string>();
  const extensions = new Map<string, Map<number, string>>();

  for (const file of fromBinary(FileDescriptorSetSchema, descriptorSet).file) {
    // Re-encoding keeps every field, unknown ones included, so clients get what `buf build` wrote.
    files.set(file.name, { bytes: toBinary(FileDescriptorProtoSchema, file), dependencies: file.dependency });
    const declare = (name: string) => symbols.set(name, file.name);
    const declareExtensions = (fields: FieldDescriptorProto[], scope: string) => {
      for (const field of fields) {
        declare(scope + field.name);
        const extendee = field.extendee.replace(/^\./, '');
        const numbers = extensions.get(extendee) ?? new Map<number, string>();
        extensions.set(extendee, numbers.set(field.number, file.name));
      }
    };
    // Enum values are scoped like their enum, not inside it (protobuf's C++ scoping rules).
    const declareEnums = (enums: EnumDescriptorProto[], scope: string) => {
      for (const enumType of enums) {
        declare(scope + enumType.name);
        for (const value of enumType.value) declare(scope + value.name);
      }
    };
    const declareMessages = (messages: DescriptorProto[], scope: string) => {
      for (const message of messages) {
        const name = scope + message.name;
        declare(name);
        if (!extensions.has(name)) extensions.set(name, new Map());
        for (const field of message.field) declare(`${name}.${field.name}`);
        for (const oneof of message.oneofDecl) declare(`${name}.${oneof.name}`);
        declareMessages(message.nestedType, `${name}.`);
        declareEnums(message.enumType, `${name}.`);
        declareExtensions(message.extension, `${name}.`);
      }
    };

    const scope = file.package ? `${file.package}.` : '';
    for (const service of file.service) {
      declare(scope + service.name);
      for (const method of service.method) declare(`${scope}${service.name}.${method.name}`);
    }
    declareMessages(file.messageType, scope);
    declareEnums(file.enumType, scope);
    declareExtensions(file.extension, scope);
  }

  return {
    fileWithDependencies(fileName) {
      if (!files.has(fileName)) return undefined;
      const found: Uint8Array[] = [];
      const seen = new Set<string>();
      const visit = (name: string) => {
        const file = files.get(name);
        // A dependency missing from the set is left out: the client then reports which one it lacks.
        if (seen.has(name) || !file) return;
        seen.add(name);
        found.push(file.bytes);
        for (const dependency of file.dependencies) visit(dependency);
      };
      visit(fileName);
      return found;
    },
    fileContainingSymbol: (symbol) => symbols.get(symbol.replace(/^\./, '')),
    extensionsOf: (messageType) => extensions.get(messageType.replace(/^\./, '')),
  };
}
