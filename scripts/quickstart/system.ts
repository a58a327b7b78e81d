import {
  createMemoryBroker,
  createLogger,
  createMetrics,
  openBroker,
  openDatabase,
  openPglite,
  type Broker,
  type Database,
  type Logger,
  type PgliteInstance,
} from '@scoreline/platform';
import { buildLineProvider, loadLineProviderConfig, type LineProvider } from '@scoreline/line-provider';
import {
  buildScoreMakerApi,
  buildScoreMakerWorker,
  createLineProviderClient,
  createMemoryEventsCache,
  createRedisEventsCache,
  loadApiConfig,
  loadWorkerConfig,
  type ScoreMakerApi,
  type ScoreMakerWorker,
} from '@scoreline/score-maker';
import { embeddedFolder, schemaOf } from './data-folder.js';
import type { QuickstartSettings, Secrets } from './settings.js';

export interface RunningSystem {
  apiUrl: string;
  lineProviderAddress: string;
  stop(): Promise<void>;
}

/**
 * line-provider, the score-maker API and its worker in one process. They still talk gRPC over loopback
 * as in the full topology. Each service owns its data: on the embedded PostgreSQL, a schema of its
 * own that it migrates itself and outside of which its SQL sees nothing (one embedded instance for
 * both costs half the memory and half the first start of one each). The broker and the cache are
 * in-process unless REDIS_URL says otherwise.
 */
export async function startSystem(
  settings: QuickstartSettings,
  secrets: Secrets,
  logger: Logger = createLogger({ name: 'scoreline', level: settings.LOG_LEVEL }),
) {
  const folder = embeddedFolder(settings.SCORELINE_DATA_DIR);
  const embeddedUrl = (schema: string) => `pglite://${folder}?schema=${schema}`;
  const lpUrl = settings.LINE_PROVIDER_DATABASE_URL ?? embeddedUrl(schemaOf.lineProvider);
  const smUrl = settings.SCORE_MAKER_DATABASE_URL ?? embeddedUrl(schemaOf.scoreMaker);
  let embedded: PgliteInstance | undefined;
  const open = async (url: string | undefined, schema: string, applicationName: string) => {
    if (url) return openDatabase({ url, logger, applicationName });
    embedded ??= await openPglite({ dataDir: folder });
    return embedded.database(schema);
  };
  const common = {
    LOG_LEVEL: settings.LOG_LEVEL,
    REDIS_URL: settings.REDIS_URL,
    REDIS_PREFIX: settings.REDIS_PREFIX,
  };
  const lineProviderAddress = `127.0.0.1:${settings.LINE_PROVIDER_GRPC_PORT}`;

  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error }, 'stopping failed');
      }
    }
  };
  try {
    // Closing the last handle of the embedded instance closes it.
    const lpDb: Database = await open(
      settings.LINE_PROVIDER_DATABASE_URL,
      schemaOf.lineProvider,
      'line-provider',
    );
    stops.push(() => lpDb.close());
    const smDb: Database = await open(settings.SCORE_MAKER_DATABASE_URL, schemaOf.scoreMaker, 'score-maker');
    stops.push(() => smDb.close());
    const broker: Broker = settings.REDIS_URL.startsWith('memory:')
      ? createMemoryBroker({ logger })
      : openBroker({ url: settings.REDIS_URL, prefix: settings.REDIS_PREFIX, logger });
    stops.push(() => broker.close());
    const cache = settings.REDIS_URL.startsWith('memory:')
      ? createMemoryEventsCache({ logger })
      : createRedisEventsCache({ url: settings.REDIS_URL, prefix: settings.REDIS_PREFIX, logger });
    stops.push(() => cache.close());
    // One registry for the three services: the API's /metrics serves all of it.
    const metrics = createMetrics();

    const lineProvider: LineProvider = await buildLineProvider(
      loadLineProviderConfig({
        env: {
          ...common,
          LINE_PROVIDER_DATABASE_URL: lpUrl,
          LINE_PROVIDER_GRPC_HOST: '127.0.0.1',
          LINE_PROVIDER_GRPC_PORT: String(settings.LINE_PROVIDER_GRPC_PORT),
          LINE_PROVIDER_ADMIN_TOKEN: secrets.adminToken,
          LINE_PROVIDER_INTERNAL_TOKEN: secrets.internalToken,
        },
        envFile: false,
      }),
      { logger: logger.child({ service: 'line-provider' }), db: lpDb, broker, metrics },
    );
    await lineProvider.start();
    stops.push(() => lineProvider.stop());

    const client = createLineProviderClient({
      address: lineProviderAddress,
      internalToken: secrets.internalToken,
      logger,
      metrics,
    });
    stops.push(() => client.close());
    const worker: ScoreMakerWorker = await buildScoreMakerWorker(
      loadWorkerConfig({
        env: {
          ...common,
          SCORE_MAKER_DATABASE_URL: smUrl,
          LINE_PROVIDER_ADDRESS: lineProviderAddress,
          LINE_PROVIDER_INTERNAL_TOKEN: secrets.internalToken,
        },
        envFile: false,
      }),
      {
        logger: logger.child({ service: 'score-maker-worker' }),
        db: smDb,
        broker,
        cache,
        lineProvider: client,
        metrics,
      },
    );
    await worker.start();
    stops.push(() => worker.stop());

    const api: ScoreMakerApi = await buildScoreMakerApi(
      loadApiConfig({
        env: {
          ...common,
          SCORE_MAKER_DATABASE_URL: smUrl,
          SCORE_MAKER_HTTP_HOST: '127.0.0.1',
          SCORE_MAKER_HTTP_PORT: String(settings.SCORE_MAKER_HTTP_PORT),
          LINE_PROVIDER_ADDRESS: lineProviderAddress,
          JWT_SECRET: secrets.jwtSecret,
          // The operations console's create, close and cancel of events.
          LINE_PROVIDER_ADMIN_TOKEN: secrets.adminToken,
        },
        envFile: false,
      }),
      {
        logger: logger.child({ service: 'score-maker-api' }),
        db: smDb,
        cache,
        lineProvider: client,
        metrics,
        // "Sign in as <name>" in the web app, only on the secret generated here (not one set by hand).
        quickstartSignIn: !settings.JWT_SECRET,
      },
    );
    const { port } = await api.start();
    stops.push(() => api.stop());
    return { apiUrl: `http://127.0.0.1:${port}`, lineProviderAddress, stop } satisfies RunningSystem;
  } catch (error) {
    await stop();
    throw error;
  }
}
