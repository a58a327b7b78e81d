import { env, loadConfig, type LoadConfigOptions } from '@scoreline/platform';

/** What every command needs. */
export const cliConfigSchema = {
  /** host:port of line-provider's gRPC server. */
  LINE_PROVIDER_ADDRESS: env.string('127.0.0.1:50051'),
  /** The deadline of each gRPC call. */
  CLI_TIMEOUT: env.duration('10s'),
};

/**
 * What admin commands need besides. A schema of its own, loaded only for them, so that `events list`
 * and `events get` work (and are not stopped by a malformed token) wherever no admin token is set.
 */
export const cliAdminConfigSchema = {
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16),
};

export function loadCliConfig(options: LoadConfigOptions) {
  return loadConfig(cliConfigSchema, options);
}

export function loadCliAdminConfig(options: LoadConfigOptions) {
  return loadConfig(cliAdminConfigSchema, options);
}
