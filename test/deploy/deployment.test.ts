// Repo-level checks of the deployment files: compose.yaml, Dockerfile, .dockerignore and the scripts in
// deploy/. They sit in this package only because vitest.config.ts collects tests from packages/*/test;
// nothing here is specific to the platform package.
//
// compose.yaml is checked by a Compose client when the machine has one (`docker compose`, else Debian's
// `docker-compose`), which validates it against the Compose schema and resolves anchors and variables;
// without one, by parsing it here with the same assertions. Test titles say which ran. No Docker engine
// is needed: nothing is built or started.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineProviderConfigSchema, lineProviderMigrations } from '@scoreline/line-provider';
import { createTestDatabase, testServices, type TestDatabase } from '@scoreline/platform/testing';
import { apiConfigSchema, scoreMakerMigrations, workerConfigSchema } from '@scoreline/score-maker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startHarness, type Harness } from '../../services/line-provider/test/helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const TOKENS = {
  LINE_PROVIDER_ADMIN_TOKEN: 'compose-admin-token-0123456789',
  LINE_PROVIDER_INTERNAL_TOKEN: 'compose-internal-token-0123456789',
};
const APP_SERVICES = ['line-provider', 'score-maker-api', 'score-maker-worker'] as const;
const SERVICES = ['postgres', 'redis', 'migrate', ...APP_SERVICES] as const;

// ---- running things -------------------------------------------------------------------------------

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Asynchronous on purpose: some tests serve in this process what the child process talks to.
function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const tsx = (script: string, args: string[], env: Record<string, string>, timeoutMs?: number) =>
  run(process.execPath, ['--import', 'tsx', script, ...args], { env, timeoutMs });

// ---- which way compose.yaml is checked --------------------------------------------------------------

function findComposeClient(): { command: string; args: string[]; name: string } | null {
  const candidates = [
    { command: 'docker', args: ['compose'], name: 'docker compose' },
    { command: 'docker-compose', args: [], name: 'docker-compose' },
  ];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate.command, [...candidate.args, 'version'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (probe.status === 0) return candidate;
  }
  return null;
}

const client = findComposeClient();
const method = client ? `\`${client.name} config\`` : 'its own YAML parse (no Compose client here)';

type Json = unknown;
type ComposeFile = { services: Record<string, Service>; [key: string]: Json };
interface Service {
  image?: string;
  build?: Json;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  ports?: (string | { target: number | string; published?: number | string; host_ip?: string })[];
  restart?: string;
  container_name?: string;
  volumes?: (string | { source?: string; target: string })[];
  [key: string]: Json;
}

/** Compose's variable substitution, for the fallback: ${V}, ${V:-d}, ${V-d}, ${V:?m}, ${V?m}, $V, $$. */
function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$(?:\$|\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_]\w*))/g,
    (match, braced?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare)!;
      const set = vars[name];
      switch (op) {
        case ':-':
          return set ? set : (arg ?? '');
        case '-':
          return set ?? arg ?? '';
        case ':?':
        case '?':
          if (op === ':?' ? !set : set === undefined) throw new Error(`${name}: ${arg}`);
          return set!;
        default:
          return set ?? '';
      }
    },
  );
}

function interpolateAll(node: Json, vars: Record<string, string | undefined>): Json {
  if (typeof node === 'string') return interpolate(node, vars);
  if (Array.isArray(node)) return node.map((item) => interpolateAll(item, vars));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, vars)]));
  }
  return node;
}

/** compose.yaml as Compose resolves it, with these variables (and no .env file). */
async function resolveCompose(vars: Record<string, string>): Promise<ComposeFile> {
  if (!client) {
    const raw = parse(read('compose.yaml'), { merge: true }) as Json;
    return interpolateAll(raw, vars) as ComposeFile;
  }
  // An empty --env-file: a developer's .env must not fill in what the test leaves out.
  const dir = mkdtempSync(join(tmpdir(), 'scoreline-compose-'));
  try {
    const envFile = join(dir, 'empty.env');
    writeFileSync(envFile, '');
    const result = await run(
      client.command,
      [...client.args, '--env-file', envFile, '-f', join(root, 'compose.yaml'), 'config'],
      { env: vars },
    );
    if (result.code !== 0) throw new Error(`${client.name} config failed: ${result.stderr}`);
    return parse(result.stdout) as ComposeFile;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const environmentOf = (service: Service): Record<string, string> => {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => [entry.split('=')[0]!, entry.split('=').slice(1).join('=')]),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? '' : String(v)]));
};
const conditionsOf = (service: Service): Record<string, string> => {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.condition ?? 'service_started']));
};
const argv = (value: string[] | string | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value.map(String) : value.split(/\s+/);
/** "[ip:]published:target[/proto]" or the long form, as { published, target, hostIp }. */
const portsOf = (service: Service) =>
  (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { published: String(port.published ?? ''), target: String(port.target), hostIp: port.host_ip };
    }
    const parts = port.replace(/\/\w+$/, '').split(':');
    const target = parts.pop()!;
    const published = parts.pop() ?? '';
    return { published, target, hostIp: parts.pop() };
  });

describe(`compose.yaml, checked by ${method}`, () => {
  let compose: ComposeFile;
  let services: Record<string, Service>;
  beforeAll(async () => {
    compose = await resolveCompose(TOKENS);
    services = compose.services;
  });

  it('when read as written, then it follows the Compose specification: no `version` key, services by name', () => {
    const raw = parse(read('compose.yaml'), { merge: true }) as ComposeFile;

    expect(raw).not.toHaveProperty('version');
    expect(Object.keys(raw.services)).toEqual(expect.arrayContaining([...SERVICES]));
  });

  it('when resolved, then every service of the topology is there, each app service built from this Dockerfile', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining([...SERVICES]));
    expect(services.postgres!.image).toMatch(/^postgres:15\b/);
    expect(services.redis!.image).toMatch(/^redis:7\b/);
    const images = new Set<string | undefined>();
    for (const name of ['migrate', ...APP_SERVICES]) {
      const service = services[name]!;
      expect(service.build, name).toBeDefined();
      images.add(service.image);
    }
    expect(images.size, 'one image for every app service').toBe(1);
  });

  it('when resolved, then start-up waits on health: databases healthy, migration completed, line-provider healthy', () => {
    const ready = {
      postgres: 'service_healthy',
      redis: 'service_healthy',
      migrate: 'service_completed_successfully',
    };

    expect(conditionsOf(services.migrate!)).toEqual({ postgres: 'service_healthy' });
    expect(conditionsOf(services['line-provider']!)).toEqual(ready);
    for (const name of ['score-maker-api', 'score-maker-worker']) {
      expect(conditionsOf(services[name]!), name).toEqual({ ...ready, 'line-provider': 'service_healthy' });
    }
  });

  it('when resolved, then every long-running service has a health check and restarts; the migration runs once', () => {
    for (const name of SERVICES.filter((s) => s !== 'migrate')) {
      const health = services[name]!.healthcheck;
      expect(health?.disable, name).not.toBe(true);
      expect(argv(health?.test).length, `${name} healthcheck.test`).toBeGreaterThan(1);
      expect(services[name]!.restart, name).toBe('unless-stopped');
    }
    expect(String(services.migrate!.restart)).toBe('no');
    expect(services.migrate!.healthcheck).toBeUndefined();
  });

  it('when resolved, then the API publishes 8002 and the scalable services publish nothing and have no fixed name', () => {
    expect(portsOf(services['score-maker-api']!)).toEqual([
      { published: '8002', target: '8002', hostIp: '127.0.0.1' },
    ]);
    for (const name of APP_SERVICES) {
      expect(services[name]!.container_name, name).toBeUndefined();
      if (name !== 'score-maker-api') expect(portsOf(services[name]!), name).toEqual([]);
    }
  });

  it('when resolved, then each service gets every variable its configuration reads, and the wiring between containers', () => {
    const schemas = {
      'line-provider': lineProviderConfigSchema,
      'score-maker-api': apiConfigSchema,
      'score-maker-worker': workerConfigSchema,
    };
    for (const [name, schema] of Object.entries(schemas)) {
      const env = environmentOf(services[name]!);
      const missing = Object.keys(schema).filter((key) => !(key in env));
      expect(missing, `${name}: add these to its environment in compose.yaml`).toEqual([]);
    }

    const lp = environmentOf(services['line-provider']!);
    const api = environmentOf(services['score-maker-api']!);
    const worker = environmentOf(services['score-maker-worker']!);
    const migrate = environmentOf(services.migrate!);
    for (const env of [lp, api, worker]) expect(env.REDIS_URL).toBe('redis://redis:6379');
    for (const env of [api, worker]) {
      expect(env.LINE_PROVIDER_ADDRESS).toBe('line-provider:50051');
      expect(new URL(env.SCORE_MAKER_DATABASE_URL!).host).toBe('postgres:5432');
    }
    expect(api.SCORE_MAKER_DATABASE_URL).toBe(migrate.SCORE_MAKER_DATABASE_URL);
    expect(lp.LINE_PROVIDER_DATABASE_URL).toBe(migrate.LINE_PROVIDER_DATABASE_URL);
    expect(lp.LINE_PROVIDER_ADMIN_TOKEN).toBe(TOKENS.LINE_PROVIDER_ADMIN_TOKEN);
    expect(worker.LINE_PROVIDER_INTERNAL_TOKEN).toBe(lp.LINE_PROVIDER_INTERNAL_TOKEN);
    expect(lp.LINE_PROVIDER_GRPC_PORT).toBe('50051');
    expect(api.SCORE_MAKER_HTTP_PORT).toBe('8002');
    expect(worker.WORKER_HTTP_PORT).toBe('8003');
  });

  it('when resolved, then the databases the services use are the ones the init script creates', () => {
    const created = [...read('deploy/postgres-init.sql').matchAll(/^\s*CREATE DATABASE (\w+)/gim)].map(
      (m) => m[1],
    );
    const used = [
      environmentOf(services.migrate!).LINE_PROVIDER_DATABASE_URL!,
      environmentOf(services.migrate!).SCORE_MAKER_DATABASE_URL!,
    ].map((url) => new URL(url).pathname.slice(1));

    expect(used).toEqual(['line_provider', 'score_maker']);
    expect(created.sort()).toEqual([...used].sort());
    const mounts = (services.postgres!.volumes ?? []).map((v) => (typeof v === 'string' ? v : v.source));
    expect(mounts.some((m) => m?.includes('deploy/postgres-init.sql'))).toBe(true);
  });

  it('when resolved, then every command and probe runs a file that exists, on the port the process listens on', () => {
    for (const name of ['migrate', ...APP_SERVICES]) {
      const command = argv(services[name]!.command);
      expect(command.slice(0, 3), name).toEqual(['node', '--import', 'tsx']);
      expect(existsSync(join(root, command[3]!)), `${name}: ${command[3]}`).toBe(true);
    }
    const probe = (name: string) => argv(services[name]!.healthcheck?.test).join(' ');
    expect(probe('line-provider')).toContain('deploy/grpc-health.ts 127.0.0.1:50051');
    expect(probe('score-maker-api')).toContain('http://127.0.0.1:8002/readyz');
    expect(probe('score-maker-worker')).toContain('http://127.0.0.1:8003/readyz');
    expect(probe('postgres')).toContain('pg_isready');
    expect(probe('redis')).toContain('redis-cli ping');
  });

  it('when the tokens are not set, then Compose refuses the file and names the variable', async () => {
    await expect(resolveCompose({})).rejects.toThrow(/LINE_PROVIDER_ADMIN_TOKEN/);
  });
});

// ---- Dockerfile and .dockerignore ----------------------------------------------------------------

describe('Dockerfile', () => {
  const text = read('Dockerfile').replace(/\\\n/g, ' ');
  const instructions = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const args = Object.fromEntries(
    instructions
      .filter((line, i) => i < instructions.findIndex((l) => /^FROM /i.test(l)) && /^ARG /i.test(line))
      .map((line) => line.slice(4).split('=') as [string, string]),
  );
  const stages: { from: string; name?: string; lines: string[] }[] = [];
  for (const line of instructions) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from)
      stages.push({
        from: from[1]!.replace(/\$\{(\w+)\}/g, (_, n: string) => args[n] ?? ''),
        name: from[2],
        lines: [],
      });
    else stages.at(-1)?.lines.push(line);
  }
  const runtime = stages.at(-1)!;
  const deps = stages.find((s) => s.lines.some((l) => /\bnpm ci\b/.test(l)))!;

  it('when parsed, then it is multi-stage on node:20-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toBe('node:20-bookworm-slim');
  });

  it('when parsed, then the dependency stage copies the lockfile and every workspace manifest before npm ci', () => {
    const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
    const npmCi = deps.lines.findIndex((l) => /\bnpm ci\b/.test(l));
    const copiedBefore = deps.lines
      .slice(0, npmCi)
      .filter((l) => /^COPY /i.test(l))
      .join('\n');

    expect(copiedBefore).toMatch(/\bpackage-lock\.json\b/);
    for (const workspace of workspaces)
      expect(copiedBefore, workspace).toContain(`${workspace}/package.json`);
  });

  it('when tsx is only a devDependency, then npm ci keeps devDependencies, since every process runs through tsx', () => {
    const manifests = [
      'package.json',
      ...JSON.parse(read('package.json')).workspaces.map((w: string) => `${w}/package.json`),
    ];
    const inDependencies = manifests.some(
      (m) => 'tsx' in ((JSON.parse(read(m)) as { dependencies?: object }).dependencies ?? {}),
    );
    const npmCi = deps.lines.find((l) => /\bnpm ci\b/.test(l))!;

    if (!inDependencies) expect(npmCi).not.toMatch(/--omit[= ]dev|--production|--only[= ]prod/);
  });

  it('when parsed, then the runtime stage runs as the unprivileged node user in production mode, API by default', () => {
    const users = runtime.lines.filter((l) => /^USER /i.test(l));
    const cmd = runtime.lines.filter((l) => /^CMD /i.test(l)).at(-1)!;
    const command = JSON.parse(cmd.slice(4)) as string[];

    expect(users.at(-1)).toBe('USER node');
    expect(runtime.lines).toContain('ENV NODE_ENV=production');
    expect(runtime.lines.some((l) => /^COPY --from=/i.test(l))).toBe(true);
    expect(command.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    expect(existsSync(join(root, command[3]!))).toBe(true);
    expect(
      runtime.lines
        .find((l) => /^EXPOSE /i.test(l))
        ?.split(/\s+/)
        .slice(1)
        .sort(),
    ).toEqual(['50051', '8001', '8002', '8003']);
  });

  it('when the build context is filtered, then host node_modules and secrets stay out and the sources go in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));

    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '.env', '.git']));
    for (const needed of [
      'deploy',
      'packages',
      'services',
      'packages/*/src',
      'services/*/src',
      'tsconfig.json',
    ]) {
      expect(ignored, needed).not.toContain(needed);
    }
  });
});

// ---- deploy/k8s ------------------------------------------------------------------------------------

describe('deploy/k8s manifests', () => {
  type Manifest = { kind: string; metadata: { name: string }; spec?: Json; data?: Record<string, string> };
  type Container = {
    image: string;
    command: string[];
    readinessProbe?: Json;
    livenessProbe?: Json;
    envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  };
  type PodSpec = { securityContext?: { runAsNonRoot?: boolean }; containers: Container[] };
  const dir = 'deploy/k8s';
  const files = readdirSync(join(root, dir)).filter((f) => f.endsWith('.yaml'));
  const kustomization = parse(read(`${dir}/kustomization.yaml`)) as { resources: string[] };
  const manifests = kustomization.resources.flatMap((file) =>
    parseAllDocuments(read(`${dir}/${file}`)).map((doc) => doc.toJS() as Manifest),
  );
  const pods = manifests
    .filter((m) => m.kind === 'Deployment' || m.kind === 'Job')
    .map((m) => ({ m, pod: (m.spec as { template: { spec: PodSpec } }).template.spec }));

  it('when kustomize reads the folder, then every manifest file is listed and parses', () => {
    expect([...kustomization.resources].sort()).toEqual(
      files.filter((f) => f !== 'kustomization.yaml').sort(),
    );
    expect(pods.map(({ m }) => m.metadata.name).sort()).toEqual([
      'line-provider',
      'score-maker-api',
      'score-maker-worker',
      'scoreline-migrate',
    ]);
  });

  it('when a pod runs, then it runs the image as non-root, a command that exists, with the shared settings', () => {
    for (const { m, pod } of pods) {
      expect(pod.securityContext?.runAsNonRoot, m.metadata.name).toBe(true);
      for (const container of pod.containers) {
        expect(container.image, m.metadata.name).toBe('scoreline');
        expect(container.command.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
        expect(existsSync(join(root, container.command[3]!)), container.command[3]).toBe(true);
        expect(container.envFrom?.map((e) => e.configMapRef?.name ?? e.secretRef?.name).sort()).toEqual([
          'scoreline-config',
          'scoreline-secrets',
        ]);
        if (m.kind === 'Deployment') {
          expect(container.readinessProbe, m.metadata.name).toBeDefined();
          expect(container.livenessProbe, m.metadata.name).toBeDefined();
        }
      }
    }
  });

  it('when the ConfigMap is read, then every key is a setting some process knows (no typos)', () => {
    const known = new Set(
      [lineProviderConfigSchema, apiConfigSchema, workerConfigSchema].flatMap((schema) =>
        Object.keys(schema),
      ),
    );
    const config = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'scoreline-config')!;

    expect(Object.keys(config.data ?? {}).filter((key) => !known.has(key))).toEqual([]);
  });
});

// ---- deploy/migrate.ts ------------------------------------------------------------------------------

describe('deploy/migrate.ts', () => {
  it('when neither database URL is set, then it exits 2 naming both variables', async () => {
    const result = await tsx('deploy/migrate.ts', [], {
      LINE_PROVIDER_DATABASE_URL: '',
      SCORE_MAKER_DATABASE_URL: '',
    });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('LINE_PROVIDER_DATABASE_URL, SCORE_MAKER_DATABASE_URL');
  });

  const { postgresUrl } = testServices();
  describe.skipIf(!postgresUrl)(
    `against two empty PostgreSQL databases${postgresUrl ? '' : ' [skipped: needs PostgreSQL; PGlite is one process-local database]'}`,
    () => {
      let lp: TestDatabase;
      let sm: TestDatabase;
      let env: Record<string, string>;
      beforeAll(async () => {
        [lp, sm] = await Promise.all([createTestDatabase([]), createTestDatabase([])]);
        env = { LINE_PROVIDER_DATABASE_URL: lp.url!, SCORE_MAKER_DATABASE_URL: sm.url!, LOG_LEVEL: 'info' };
      });
      afterAll(async () => {
        await Promise.all([lp?.dispose(), sm?.dispose()]);
      });

      const tables = async (tdb: TestDatabase) =>
        (
          await tdb.db.query<{ name: string }>(
            `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`,
          )
        ).rows.map((r) => r.name);
      const ledger = async (tdb: TestDatabase) =>
        (await tdb.db.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id')).rows.map(
          (r) => r.id,
        );
      const appliedCounts = (stdout: string) =>
        stdout
          .split('\n')
          .filter((line) => line.includes('"database migrated"'))
          .map((line) => JSON.parse(line) as { database: string; applied: number })
          .map((r) => `${r.database}:${r.applied}`)
          .sort();

      it('when two run at once on empty databases, then both exit 0 and both schemas are complete', async () => {
        const results = await Promise.all([
          tsx('deploy/migrate.ts', [], env),
          tsx('deploy/migrate.ts', [], env),
        ]);

        for (const r of results) expect(r.code, r.stderr).toBe(0);
        expect(await tables(lp)).toEqual(
          expect.arrayContaining(['events', 'score_ledger', 'outbox', 'schema_migrations']),
        );
        expect(await tables(sm)).toEqual(expect.arrayContaining(['scores', 'outbox', 'schema_migrations']));
        expect(await ledger(lp)).toEqual(lineProviderMigrations.map((m) => m.id).sort());
        expect(await ledger(sm)).toEqual(scoreMakerMigrations.map((m) => m.id).sort());
        // Each migration was applied by exactly one of the two.
        const applied = results.flatMap((r) => appliedCounts(r.stdout));
        const total = (db: string) =>
          applied.filter((a) => a.startsWith(`${db}:`)).reduce((sum, a) => sum + Number(a.split(':')[1]), 0);
        expect(total('line-provider')).toBe(lineProviderMigrations.length);
        expect(total('score-maker')).toBe(scoreMakerMigrations.length);
      }, 90_000);

      it('when run again, then it applies nothing and exits 0', async () => {
        const result = await tsx('deploy/migrate.ts', [], env);

        expect(result.code, result.stderr).toBe(0);
        expect(appliedCounts(result.stdout)).toEqual(['line-provider:0', 'score-maker:0']);
      }, 60_000);
    },
  );
});

// ---- the health probes ------------------------------------------------------------------------------

async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('deploy/grpc-health.ts', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness?.dispose();
  });

  it('when line-provider is serving, then it prints SERVING and exits 0', async () => {
    const result = await tsx('deploy/grpc-health.ts', [`127.0.0.1:${harness.port}`], {});

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('SERVING');
  }, 60_000);

  it('when the service name is unknown, then it exits 1 with NOT_FOUND', async () => {
    const result = await tsx('deploy/grpc-health.ts', [`127.0.0.1:${harness.port}`, 'no.such.Service'], {});

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('NOT_FOUND');
  }, 60_000);

  it('when nothing listens on the port, then it exits 1 with UNAVAILABLE', async () => {
    const result = await tsx('deploy/grpc-health.ts', [`127.0.0.1:${await closedPort()}`], {
      GRPC_HEALTH_TIMEOUT: '2s',
    });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
  }, 60_000);
});

describe(`compose.yaml's HTTP health checks (the node -e one-liners), taken from ${method}`, () => {
  let server: Server;
  let port = 0;
  let status = 200;
  let probes: Record<string, string>;
  beforeAll(async () => {
    server = createHttpServer((request, response) => {
      response.writeHead(request.url === '/readyz' ? status : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    const { services } = await resolveCompose(TOKENS);
    probes = {};
    for (const name of ['score-maker-api', 'score-maker-worker']) {
      const test = argv(services[name]!.healthcheck?.test);
      expect(test.slice(0, 3), name).toEqual(['CMD', 'node', '-e']);
      probes[name] = test[3]!;
    }
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  const probe = (script: string, targetPort: number) =>
    run(process.execPath, ['-e', script.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${targetPort}`)]);

  it('when /readyz answers 200, then each probe exits 0; when 503 or nothing listens, then 1', async () => {
    for (const [name, script] of Object.entries(probes)) {
      status = 200;
      expect((await probe(script, port)).code, `${name} on 200`).toBe(0);
      status = 503;
      expect((await probe(script, port)).code, `${name} on 503`).toBe(1);
      expect((await probe(script, await closedPort())).code, `${name} on a closed port`).toBe(1);
    }
  }, 60_000);
});
