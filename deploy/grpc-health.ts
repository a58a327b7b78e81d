/**
 * A gRPC health probe for line-provider's container: calls grpc.health.v1.Health/Check and exits 0 when
 * the answer is SERVING, 1 otherwise (NOT_SERVING, an error, no answer in time). compose.yaml's
 * healthcheck and a Kubernetes exec probe run it inside the container:
 *
 *   node --import tsx deploy/grpc-health.ts [host:port] [service]
 *
 * host:port defaults to 127.0.0.1 and LINE_PROVIDER_GRPC_PORT (50051); service defaults to "" (the
 * server's overall status, which line-provider reports SERVING only while its database answers).
 * GRPC_HEALTH_TIMEOUT (default 3s) bounds the call. The status goes to stdout, any error to stderr.
 * Against a TLS server it takes the clients' LINE_PROVIDER_TLS* settings (docs/security.md).
 */
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, health } from '@scoreline/contracts';
import { ConfigError, env, lineProviderClientTls, loadConfig, type ClientTls } from '@scoreline/platform';

const { SERVING } = health.HealthCheckResponse_ServingStatus;

const probeConfigSchema = {
  LINE_PROVIDER_GRPC_PORT: env.port(50051),
  /** The deadline of the Health/Check call. */
  GRPC_HEALTH_TIMEOUT: env.duration('3s'),
  /**
   * Call line-provider over TLS, checking its certificate against the default public roots; on by
   * itself when the CA file, the server name or the client certificate below is set.
   */
  LINE_PROVIDER_TLS: env.boolean(false),
  /** PEM CA certificates line-provider's server certificate must chain to (turns TLS on). */
  LINE_PROVIDER_TLS_CA_FILE: env.file().optional(),
  /**
   * The name line-provider's certificate is checked for, when it differs from the host in
   * LINE_PROVIDER_ADDRESS (turns TLS on).
   */
  LINE_PROVIDER_TLS_SERVER_NAME: env.string().optional(),
  /**
   * PEM client certificate presented to line-provider, for mutual TLS (with
   * LINE_PROVIDER_CLIENT_KEY_FILE; turns TLS on).
   */
  LINE_PROVIDER_CLIENT_CERT_FILE: env.file().optional(),
  /** PEM private key of LINE_PROVIDER_CLIENT_CERT_FILE. */
  LINE_PROVIDER_CLIENT_KEY_FILE: env.file().optional(),
};

function check(address: string, service: string, timeoutMs: number, tls?: ClientTls): Promise<number> {
  const channel = channelCredentials(tls);
  const client = new health.HealthClient(address, channel.credentials, channel.options);
  return new Promise<number>((resolve) => {
    client.check(
      { service },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error: grpc.ServiceError | null, response?: health.HealthCheckResponse) => {
        if (error || !response) {
          const reason = error ? `${grpc.status[error.code] ?? error.code}: ${error.details}` : 'no response';
          process.stderr.write(`grpc-health: ${address} ${reason}\n`);
          resolve(1);
          return;
        }
        process.stdout.write(`${health.healthCheckResponse_ServingStatusToJSON(response.status)}\n`);
        resolve(response.status === SERVING ? 0 : 1);
      },
    );
  }).finally(() => client.close());
}

async function main(): Promise<void> {
  let config;
  let tls;
  try {
    config = loadConfig(probeConfigSchema);
    tls = lineProviderClientTls(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`grpc-health: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const [address = `127.0.0.1:${config.LINE_PROVIDER_GRPC_PORT}`, service = ''] = process.argv.slice(2);
  // Exit at once: a probe must never linger on an open handle.
  process.exit(await check(address, service, config.GRPC_HEALTH_TIMEOUT, tls));
}

main().catch((error: unknown) => {
  process.stderr.write(`grpc-health failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
