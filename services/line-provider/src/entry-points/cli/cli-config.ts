import { env, lineProviderClientTls, loadConfig, type LoadConfigOptions } from '@scoreline/platform';

/** What every command needs. */
export const cliConfigSchema = {
  /** host:port of line-provider's gRPC server. */
  LINE_PROVIDER_ADDRESS: env.string('127.0.0.1:50051'),
  /** The deadline of each gRPC call. */
  CLI_TIMEOUT: env.duration('10s'),
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

/**
 * What admin commands need besides. A schema of its own, loaded only for them, so that `events list`
 * and `events get` work (and are not stopped by a malformed token) wherever no admin token is set.
 */
export const cliAdminConfigSchema = {
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16),
};

export function loadCliConfig(options: LoadConfigOptions) {
  const config = loadConfig(cliConfigSchema, options);
  return Object.freeze({ ...config, lineProviderTls: lineProviderClientTls(config) });
}

export function loadCliAdminConfig(options: LoadConfigOptions) {
  return loadConfig(cliAdminConfigSchema, options);
}
