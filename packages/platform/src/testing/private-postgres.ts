import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`; `urlFor(db)` names another database. */
  url: string;
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** `pg_ctl restart -m fast`: what a failover or a minor upgrade does to connected clients. */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast`; `start()` brings it back on the same port with the same data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  dispose(): Promise<void>;
}

/** The newest PostgreSQL server binaries Debian installed, or undefined. */
function serverBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

/** Whether private PostgreSQL servers can be started here (Debian's initdb and pg_ctl). */
export function privatePostgresAvailable(): boolean {
  return serverBinDir() !== undefined;
}

/**
 * A PostgreSQL server of the test's own, on a temporary directory and port, for tests that restart or
 * stop the database: doing that to the machine's server would break every other test file running at
 * the same time. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = serverBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'scoreline-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dataDir, uid, gid);
  }
  // Asynchronous, so that a load running in the same process goes on (and sees the outage) meanwhile.
  const pgRun = (tool: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const command = path.join(bin, tool);
      const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
      execFile(file, argv, { encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr || stdout || error.message}`));
        else resolve();
      });
    });
  await pgRun('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  // fsync off: the data is thrown away, and a fast restart is what the tests are about.
  const serverOptions = `-p ${port} -k ${dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const pgCtl = async (...args: string[]) =>
    pgRun('pg_ctl', ['-D', dataDir, '-l', path.join(dataDir, 'server.log'), '-o', serverOptions, ...args]);

  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const ready = async () => {
    const client = new pg.Client({ connectionString: urlFor('postgres') });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  let running = false;
  const handle: PrivatePostgres = {
    url: urlFor('postgres'),
    urlFor,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
    },
    async restart() {
      await pgCtl('restart', '-m', 'fast', '-w');
      await waitFor(ready, { what: `private PostgreSQL on ${port}`, timeoutMs: 30_000 });
    },
    async stop() {
      if (!running) return;
      await pgCtl('stop', '-m', 'fast', '-w');
      running = false;
    },
    async start() {
      await pgCtl('start', '-w');
      running = true;
      await waitFor(ready, { what: `private PostgreSQL on ${port}`, timeoutMs: 30_000 });
    },
    async dispose() {
      try {
        await handle.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  await handle.start();
  return handle;
}
