import * as grpc from '@grpc/grpc-js';

/** bench.Echo/Echo: a hand-written unary service whose messages are raw bytes (no protobuf work). */
export const ECHO_PATH = '/bench.Echo/Echo';

const identity = (buffer: Buffer) => buffer;

export const echoService: grpc.ServiceDefinition = {
  echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** A client for the echo server: one channel, like the line-provider client it is compared with. */
export function createEchoClient(address: string) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    echo: (payload: Buffer, deadlineMs = 30_000) =>
      new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(
          ECHO_PATH,
          identity,
          identity,
          payload,
          new grpc.Metadata(),
          { deadline: Date.now() + deadlineMs },
          (error, response) => (error ? reject(error) : resolve(response!)),
        );
      }),
    close: () => client.close(),
  };
}
