import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { v1 } from '@scoreline/contracts';
import { ConfigError } from '@scoreline/platform';
import { dataDirPrefix, renderBanner, shownPath } from './banner.js';
import { olderLayoutMessage } from './data-folder.js';
import { loadQuickstartSettings, loadSecrets, type LoadedSettings } from './settings.js';
import { startSystem } from './system.js';

// The embedded PostgreSQL is WebAssembly, which V8 first compiles quickly and then recompiles,
// optimised, wherever it runs hot: at start-up that is much of PostgreSQL, measured here at a quarter
// of PGlite's start-up CPU time and ~40 MB. A larger budget (the default is 1,800,000) keeps the quick
// compile through start-up and still optimises what stays hot later on. Set before PGlite compiles.
setFlagsFromString('--wasm-tiering-budget=100000000');

/** `npm start`: the whole system in one process, on an embedded database unless told otherwise. */
async function main() {
  const started = Date.now();
  let loaded: LoadedSettings;
  try {
    loaded = loadQuickstartSettings();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`scoreline: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const { settings } = loaded;
  const older = olderLayoutMessage(settings, shownPath(settings.SCORELINE_DATA_DIR), dataDirPrefix(loaded));
  if (older) {
    console.error(`scoreline: ${older}`);
    process.exit(2);
  }
  const secrets = loadSecrets(settings);
  console.log('Scoreline: starting line-provider, the score-maker API and its worker in one process…');
  const system = await startSystem(settings, secrets);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      console.log('second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    system.stop().then(
      () => {
        console.log('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        console.error('stopping failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const events = settings.SCORELINE_DEMO_EVENTS
    ? await ensureDemoEvents(system.lineProviderAddress, secrets.adminToken)
    : [];
  const demoToken = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('demo')
    .setIssuedAt()
    .setExpirationTime('30d')
    .sign(new TextEncoder().encode(secrets.jwtSecret));
  console.log(
    renderBanner({
      loaded,
      seconds: (Date.now() - started) / 1000,
      apiUrl: system.apiUrl,
      lineProviderAddress: system.lineProviderAddress,
      adminToken: secrets.adminToken,
      demoToken,
      eventId: events[0] ?? 1,
      webApp: existsSync(fileURLToPath(new URL('../../web/dist/index.html', import.meta.url))),
    }),
  );
}

/** Creates three demo events when line-provider has none; returns the open events' ids. */
async function ensureDemoEvents(address: string, adminToken: string): Promise<number[]> {
  const client = new v1.EventServiceClient(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${adminToken}`);
  const call = <Req, Res>(
    method: (req: Req, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown,
    req: Req,
  ) => new Promise<Res>((resolve, reject) => method(req, metadata, (e, r) => (e ? reject(e) : resolve(r))));
  try {
    const existing = await call<v1.ListEventsRequest, v1.ListEventsResponse>(
      (req, md, cb) => client.listEvents(req, md, cb),
      v1.ListEventsRequest.fromPartial({ state: v1.EventState.EVENT_STATE_OPEN, pageSize: 10 }),
    );
    if (existing.events.length > 0) return existing.events.map((e) => e.id);
    const hour = 3_600_000;
    const ids: number[] = [];
    for (const [title, inMs] of [
      ['Cup final: Northside vs Harbour', 2 * hour],
      ['City marathon', 24 * hour],
      ['Jazz night at the old pier', 7 * 24 * hour],
    ] as const) {
      const res = await call<v1.CreateEventRequest, v1.CreateEventResponse>(
        (req, md, cb) => client.createEvent(req, md, cb),
        v1.CreateEventRequest.fromPartial({ title, deadline: new Date(Date.now() + inMs) }),
      );
      ids.push(res.event!.id);
    }
    return ids;
  } finally {
    client.close();
  }
}

main().catch((error: unknown) => {
  console.error(`scoreline failed to start: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof Error && /EADDRINUSE|No address added/.test(`${error.message}`)) {
    console.error('A port is taken: set SCORE_MAKER_HTTP_PORT or LINE_PROVIDER_GRPC_PORT to free ones.');
  }
  process.exit(1);
});
