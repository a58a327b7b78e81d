// Repo-level checks of deploy/observability: the alert rules through promtool (their unit tests
// included), the Prometheus scrape configuration against the ports the processes listen on, the Grafana
// dashboard's structure and provisioning, compose.yaml's `observability` profile and the Kubernetes
// scrape annotations. That the dashboard and the rules read only metrics the processes export is
// checked against real scrapes in test/e2e/metrics.test.ts.
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineProviderConfigSchema } from '@scoreline/line-provider';
import { apiConfigSchema, workerConfigSchema } from '@scoreline/score-maker';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = 'deploy/observability';
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
// In CI a missing promtool fails the run (.ci/run installs Debian's prometheus package); elsewhere the
// promtool checks are skipped, and the title says why.
const inCi = Boolean(process.env.CI);
const skipPromtool = !promtool && !inCi;
const promtoolNote = skipPromtool
  ? ' [skipped: promtool not installed (apt-get install prometheus); CI fails instead]'
  : '';

function runPromtool(args: string[]): Promise<{ code: number | null; out: string }> {
  if (!promtool) {
    throw new Error(
      'promtool is not installed: CI needs it (apt-get install -y prometheus, as .ci/run does)',
    );
  }
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout + stderr });
    });
  });
}

/** The ports each process serves /metrics on, by default (from their configuration schemas). */
const defaultPort = (schema: Record<string, { parse(v: unknown): unknown }>, key: string) =>
  schema[key]!.parse(undefined);
const metricsPorts = {
  'line-provider': defaultPort(lineProviderConfigSchema, 'LINE_PROVIDER_HTTP_PORT'),
  'score-maker-api': defaultPort(apiConfigSchema, 'SCORE_MAKER_HTTP_PORT'),
  'score-maker-worker': defaultPort(workerConfigSchema, 'WORKER_HTTP_PORT'),
};

describe(`alert rules, checked by promtool${promtoolNote}`, () => {
  it.skipIf(skipPromtool)(
    'when promtool checks the rules and the scrape configuration, then both are valid',
    async () => {
      const rules = await runPromtool(['check', 'rules', `${dir}/prometheus/alerts.yml`]);
      expect(rules.code, rules.out).toBe(0);
      expect(rules.out).toMatch(/SUCCESS: 4 rules found/);
      const config = await runPromtool(['check', 'config', `${dir}/prometheus/prometheus.yml`]);
      expect(config.code, config.out).toBe(0);
    },
  );

  it.skipIf(skipPromtool)(
    'when promtool runs the rules unit tests, then every alert fires and clears as they say',
    async () => {
      const tests = await runPromtool(['test', 'rules', `${dir}/prometheus/alerts.test.yml`]);
      expect(tests.code, tests.out).toBe(0);
      expect(tests.out).toContain('SUCCESS');
    },
  );

  it('when the rules are read, then each alert has a severity, a summary and a runbook link that exists', () => {
    const rules = parse(read(`${dir}/prometheus/alerts.yml`)) as {
      groups: {
        rules: {
          alert: string;
          for?: string;
          labels?: { severity?: string };
          annotations?: Record<string, string>;
        }[];
      }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules);
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'ScorelineCompensationsHigh',
      'ScorelineLineProviderUnreachable',
      'ScorelineOutboxLag',
      'ScorelineSagasStuck',
    ]);
    const operations = read('docs/operations.md');
    const observability = read('docs/observability.md');
    const anchors = new Set(
      [...operations.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const alert of alerts) {
      expect(['page', 'ticket'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      const runbook = /docs\/operations\.md#([a-z0-9-]+)/.exec(alert.annotations?.description ?? '');
      expect(runbook, `${alert.alert}: a runbook link`).not.toBeNull();
      expect(anchors, `${alert.alert}: docs/operations.md#${runbook![1]}`).toContain(runbook![1]);
      expect(observability, `${alert.alert} in docs/observability.md`).toContain(alert.alert);
    }
  });
});

describe('the Prometheus scrape configuration', () => {
  it('when read, then it scrapes each process on the port it serves /metrics on, and loads the rules', () => {
    const config = parse(read(`${dir}/prometheus/prometheus.yml`)) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        dns_sd_configs: { names: string[]; port: number }[];
      }[];
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]));
    expect(Object.keys(jobs).sort()).toEqual(Object.keys(metricsPorts).sort());
    for (const [name, port] of Object.entries(metricsPorts)) {
      expect(jobs[name]!.metrics_path ?? '/metrics').toBe('/metrics');
      expect(jobs[name]!.dns_sd_configs, name).toEqual([{ names: [name], type: 'A', port }]);
    }
  });
});

describe('the Grafana dashboard', () => {
  type Panel = {
    id: number;
    type: string;
    title: string;
    gridPos: { h: number; w: number; x: number; y: number };
    datasource?: { type: string; uid: string };
    targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
  };
  const dashboard = JSON.parse(read(`${dir}/grafana/dashboards/scoreline.json`)) as {
    uid: string;
    title: string;
    schemaVersion: number;
    templating: { list: { name: string; type: string; query: string }[] };
    panels: Panel[];
  };

  it('when parsed, then it is a Grafana dashboard: schema version, uid, a Prometheus data source variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
  });

  it('when its panels are read, then each has a unique id, fits the 24-column grid and queries Prometheus', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const graphs = dashboard.panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(10);
    for (const panel of graphs) {
      expect(panel.title, `panel ${panel.id}`).toBeTruthy();
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets!) expect(target.expr.trim(), panel.title).not.toBe('');
    }
  });

  it('when read, then it shows the saga flow: outcomes, the 202 → settled quantiles, backlog, errors and line-provider up', () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    const has = (pattern: RegExp) => exprs.some((e) => pattern.test(e));
    expect(has(/scoreline_saga_outcomes_total/)).toBe(true);
    expect(has(/scoreline_saga_compensations_total/)).toBe(true);
    expect(has(/scoreline_scores_accepted_total/)).toBe(true);
    for (const q of ['0.5', '0.95', '0.99']) {
      expect(
        has(new RegExp(`histogram_quantile\\(${q}, .*scoreline_score_settlement_seconds_bucket`)),
        q,
      ).toBe(true);
    }
    expect(has(/scoreline_outbox_unpublished/)).toBe(true);
    expect(has(/status=~"5\.\."/)).toBe(true);
    expect(has(/up\{job="line-provider"\}/)).toBe(true);
  });

  it('when Grafana is provisioned, then the data source and the dashboard folder are the ones compose mounts', () => {
    const datasources = parse(read(`${dir}/grafana/provisioning/datasources/prometheus.yml`)) as {
      datasources: { type: string; url: string }[];
    };
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const providers = parse(read(`${dir}/grafana/provisioning/dashboards/scoreline.yml`)) as {
      providers: { options: { path: string } }[];
    };
    const compose = parse(read('compose.yaml'), { merge: true }) as {
      services: Record<
        string,
        { profiles?: string[]; volumes?: string[]; environment?: Record<string, string> }
      >;
    };
    const grafanaVolumes = compose.services.grafana!.volumes!;
    expect(grafanaVolumes).toContain(
      `./${dir}/grafana/dashboards:${providers.providers[0]!.options.path}:ro`,
    );
    expect(grafanaVolumes).toContain(`./${dir}/grafana/provisioning:/etc/grafana/provisioning:ro`);
  });
});

describe('compose.yaml, the observability profile', () => {
  const compose = parse(read('compose.yaml'), { merge: true }) as {
    services: Record<
      string,
      { profiles?: string[]; volumes?: string[]; expose?: string[]; environment?: Record<string, string> }
    >;
  };

  it('when read, then Prometheus, Grafana and Jaeger run only in that profile, the app services in every one', () => {
    for (const name of ['prometheus', 'grafana', 'jaeger']) {
      expect(compose.services[name]?.profiles, name).toEqual(['observability']);
    }
    for (const name of Object.keys(metricsPorts))
      expect(compose.services[name]!.profiles, name).toBeUndefined();
    expect(compose.services.prometheus!.volumes).toContain(`./${dir}/prometheus:/etc/prometheus:ro`);
    expect(compose.services.jaeger!.expose).toContain('4318');
  });

  it('when read, then line-provider exposes its metrics port, and the tracing override points every app service at Jaeger', () => {
    expect(compose.services['line-provider']!.expose).toContain(String(metricsPorts['line-provider']));
    expect(compose.services['line-provider']!.environment!.LINE_PROVIDER_HTTP_PORT).toBe(
      String(metricsPorts['line-provider']),
    );
    const tracing = parse(read(`${dir}/compose.tracing.yaml`), { merge: true }) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    expect(Object.keys(tracing.services).sort()).toEqual(Object.keys(metricsPorts).sort());
    for (const [name, service] of Object.entries(tracing.services)) {
      expect(compose.services[name]?.environment, `${name} is a compose.yaml service`).toBeDefined();
      expect(service.environment, name).toEqual({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
      });
    }
  });
});

describe('deploy/k8s scrape annotations', () => {
  it('when the Deployments are read, then each pod is annotated for scraping on its metrics port', () => {
    const files = {
      'line-provider': 'line-provider.yaml',
      'score-maker-api': 'score-maker-api.yaml',
      'score-maker-worker': 'score-maker-worker.yaml',
    };
    for (const [name, file] of Object.entries(files)) {
      const deployment = parseAllDocuments(read(`deploy/k8s/${file}`))
        .map(
          (d) =>
            d.toJS() as {
              kind: string;
              spec: {
                template: {
                  metadata: { annotations?: Record<string, string> };
                  spec: { containers: { ports: { containerPort: number }[] }[] };
                };
              };
            },
        )
        .find((m) => m.kind === 'Deployment')!;
      const port = metricsPorts[name as keyof typeof metricsPorts];
      expect(deployment.spec.template.metadata.annotations, name).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port),
        'prometheus.io/path': '/metrics',
      });
      const ports = deployment.spec.template.spec.containers.flatMap((c) =>
        c.ports.map((p) => p.containerPort),
      );
      expect(ports, name).toContain(port);
    }
  });
});
