import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTestCertificates, type TestCertificates } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/entry-points/cli/run-cli.js';
import { ADMIN_TOKEN, startHarness, type Harness } from './helpers.js';

let certs: TestCertificates;
let h: Harness;
beforeAll(async () => {
  certs = makeTestCertificates();
  h = await startHarness({
    LINE_PROVIDER_TLS_CERT_FILE: certs.serverCert,
    LINE_PROVIDER_TLS_KEY_FILE: certs.serverKey,
    LINE_PROVIDER_TLS_CLIENT_CA_FILE: certs.ca,
  });
});
afterAll(async () => {
  await h?.dispose();
  certs?.dispose();
});

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** deploy/grpc-health.ts as compose and Kubernetes run it, against the harness's port. */
async function probe(env: Record<string, string>) {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'deploy/grpc-health.ts', `127.0.0.1:${h.port}`],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH, GRPC_HEALTH_TIMEOUT: '5s', ...env } },
    );
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function cli(argv: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { LINE_PROVIDER_ADDRESS: `localhost:${h.port}`, CLI_TIMEOUT: '3s', ...env },
  });
  return { code, stdout, stderr };
}

describe('admin CLI and health probe against line-provider on mutual TLS', () => {
  it('when the CLI has the CA and a client certificate, then its calls go through', async () => {
    const created = await cli(['events', 'create', '--title', 'TLS cup', '--deadline', '+1d'], {
      LINE_PROVIDER_ADMIN_TOKEN: ADMIN_TOKEN,
      LINE_PROVIDER_TLS_CA_FILE: certs.ca,
      LINE_PROVIDER_CLIENT_CERT_FILE: certs.clientCert,
      LINE_PROVIDER_CLIENT_KEY_FILE: certs.clientKey,
    });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Created event \d+/);
  });

  it('when the CLI has no client certificate or speaks plain text, then the call fails (exit 1)', async () => {
    const noCert = await cli(['events', 'list'], { LINE_PROVIDER_TLS_CA_FILE: certs.ca });
    expect(noCert.code).toBe(1);
    expect(noCert.stderr).toMatch(/cannot reach line-provider/);
    const plain = await cli(['events', 'list'], {});
    expect(plain.code).toBe(1);
  });

  it('when a TLS file setting names a missing file, then the CLI stops with a settings error naming it (exit 2)', async () => {
    const result = await cli(['events', 'list'], { LINE_PROVIDER_TLS_CA_FILE: `${certs.dir}/missing.crt` });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /LINE_PROVIDER_TLS_CA_FILE: expected the path of a readable file \(ENOENT\)/,
    );
  });

  it('when the health probe has the client settings, then it prints SERVING; without a client certificate it exits 1', async () => {
    const server = { LINE_PROVIDER_TLS_CA_FILE: certs.ca, LINE_PROVIDER_TLS_SERVER_NAME: 'localhost' };
    const [withCert, withoutCert] = await Promise.all([
      probe({
        ...server,
        LINE_PROVIDER_CLIENT_CERT_FILE: certs.clientCert,
        LINE_PROVIDER_CLIENT_KEY_FILE: certs.clientKey,
      }),
      probe(server),
    ]);
    expect(withCert).toMatchObject({ code: 0, stdout: 'SERVING\n' });
    expect(withoutCert.code).toBe(1);
    expect(withoutCert.stderr).toMatch(/UNAVAILABLE/);
  });
});
