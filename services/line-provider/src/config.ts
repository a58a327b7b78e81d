import {
  ConfigError,
  env,
  loadConfig,
  readTlsFiles,
  type LoadConfigOptions,
  type TlsMaterial,
} from '@scoreline/platform';

/**
 * Every setting line-provider reads. The comment above each one is its description in
 * docs/configuration.md and .env.example (`npm run docs:config` writes both).
 */
export const lineProviderConfigSchema = {
  /** How much the process logs (JSON lines on stdout). */
  LOG_LEVEL: env.logLevel(),
  /** line-provider's database: postgres://user:password@host:5432/database, or pglite://<folder>. */
  LINE_PROVIDER_DATABASE_URL: env.url(
    ['postgres:', 'postgresql:', 'pglite:'],
    'pglite://.data/line-provider',
  ),
  /** Connections in line-provider's database pool. */
  LINE_PROVIDER_DATABASE_POOL_SIZE: env.integer(10, { min: 1, max: 200 }),
  /** Where EventChanged messages go: redis://… (rediss:// for TLS), or memory:// (one process only). */
  REDIS_URL: env.url(['redis:', 'rediss:', 'memory:'], 'redis://127.0.0.1:6379'),
  /** Prefix of every Redis key and queue, so that several deployments can share one Redis. */
  REDIS_PREFIX: env.string('scoreline'),
  /** The interface the gRPC server listens on (0.0.0.0: every interface). */
  LINE_PROVIDER_GRPC_HOST: env.string('0.0.0.0'),
  /** The gRPC port. */
  LINE_PROVIDER_GRPC_PORT: env.port(50051),
  /** The interface of the health and metrics HTTP port (/healthz, /readyz, /metrics). */
  LINE_PROVIDER_HTTP_HOST: env.string('0.0.0.0'),
  /** The health and metrics HTTP port (Prometheus scrapes /metrics here; 0: any free port). */
  LINE_PROVIDER_HTTP_PORT: env.port(8001),
  /**
   * PEM certificate chain of the gRPC server; with LINE_PROVIDER_TLS_KEY_FILE it turns TLS on (unset:
   * plain text). Read at start-up: a restart picks up a renewed certificate.
   */
  LINE_PROVIDER_TLS_CERT_FILE: env.file().optional(),
  /** PEM private key of LINE_PROVIDER_TLS_CERT_FILE. */
  LINE_PROVIDER_TLS_KEY_FILE: env.file().optional(),
  /**
   * PEM CA certificates for mutual TLS: when set, a client must present a certificate signed by one of
   * them or its connection is refused. Needs LINE_PROVIDER_TLS_CERT_FILE and LINE_PROVIDER_TLS_KEY_FILE.
   */
  LINE_PROVIDER_TLS_CLIENT_CA_FILE: env.file().optional(),
  /** Token for CreateEvent/UpdateEvent/CloseEvent/CancelEvent (the admin CLI sends it). */
  LINE_PROVIDER_ADMIN_TOKEN: env.secret(16),
  /** Token for ApplyScore/RevertScore (score-maker's worker sends it). */
  LINE_PROVIDER_INTERNAL_TOKEN: env.secret(16),
  /** The original contract had no auth; set true to make it require the internal token too. */
  LINE_PROVIDER_LEGACY_REQUIRE_TOKEN: env.boolean(false),
  /**
   * Single ApplyScore/RevertScore statements running at once. Single calls that arrive while they run
   * go together in the next one (group commit), so a busy line-provider commits many calls at once.
   */
  LINE_PROVIDER_SINGLE_CALL_CONCURRENCY: env.integer(2, { min: 1, max: 200 }),
  /** The most single calls one statement applies; 1 runs each call in a statement of its own. */
  LINE_PROVIDER_SINGLE_CALL_BATCH_SIZE: env.integer(200, { min: 1, max: 1000 }),
  /** How often the deadline closer looks for open events past their deadline. */
  DEADLINE_CHECK_INTERVAL: env.duration('1s'),
  /** How often the outbox relay looks for new rows when no NOTIFY has woken it. */
  OUTBOX_POLL_INTERVAL: env.duration('1s'),
  /** Outbox rows the relay claims, publishes and marks in one transaction. */
  OUTBOX_BATCH_SIZE: env.integer(200, { min: 1, max: 5000 }),
  /** How long published outbox rows are kept before they are deleted. */
  OUTBOX_RETENTION: env.duration('24h'),
  /** How long the process may take to stop after SIGTERM or SIGINT before it exits anyway. */
  SHUTDOWN_TIMEOUT: env.duration('20s'),
};

export type LineProviderConfig = ReturnType<typeof loadLineProviderConfig>;

/** The gRPC server's TLS: its certificate and key, and the CA of client certificates for mutual TLS. */
export type ServerTls = Required<Pick<TlsMaterial, 'cert' | 'key'>> & Pick<TlsMaterial, 'ca'>;

export function loadLineProviderConfig(options?: LoadConfigOptions) {
  const config = loadConfig(lineProviderConfigSchema, options);
  if (config.LINE_PROVIDER_TLS_CLIENT_CA_FILE && !config.LINE_PROVIDER_TLS_CERT_FILE) {
    throw new ConfigError([
      'LINE_PROVIDER_TLS_CLIENT_CA_FILE: mutual TLS needs LINE_PROVIDER_TLS_CERT_FILE and ' +
        'LINE_PROVIDER_TLS_KEY_FILE (they are not set)',
    ]);
  }
  const { ca, cert, key } = readTlsFiles({
    ca: { name: 'LINE_PROVIDER_TLS_CLIENT_CA_FILE', path: config.LINE_PROVIDER_TLS_CLIENT_CA_FILE },
    cert: { name: 'LINE_PROVIDER_TLS_CERT_FILE', path: config.LINE_PROVIDER_TLS_CERT_FILE },
    key: { name: 'LINE_PROVIDER_TLS_KEY_FILE', path: config.LINE_PROVIDER_TLS_KEY_FILE },
  });
  const grpcTls: ServerTls | undefined = cert && key ? { cert, key, ca } : undefined;
  return Object.freeze({ ...config, grpcTls });
}
