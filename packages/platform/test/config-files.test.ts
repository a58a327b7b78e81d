import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, env, loadConfig } from '../src/index.js';

const schema = {
  API_TOKEN: env.secret(16),
  DATABASE_URL: env.url(['postgres:', 'postgresql:'], 'postgres://127.0.0.1/app'),
  PORT: env.port(8002),
  CERT_FILE: env.file().optional(),
};

const dir = mkdtempSync(join(tmpdir(), 'scoreline-config-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problems(environment: Record<string, string>): string[] {
  try {
    loadConfig(schema, { env: environment, envFile: false });
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('the configuration loaded');
}

describe('settings read from <NAME>_FILE', () => {
  it('when API_TOKEN_FILE names a file, then the token is its content without the trailing newline', () => {
    const config = loadConfig(schema, {
      env: { API_TOKEN_FILE: file('token', 'a-token-from-a-secret-file\n') },
      envFile: false,
    });
    expect(config.API_TOKEN).toBe('a-token-from-a-secret-file');
  });

  it('when a URL with a password comes from a file, then it is read like the variable (CRLF trimmed too)', () => {
    const config = loadConfig(schema, {
      env: {
        API_TOKEN: 'a-token-of-enough-length',
        DATABASE_URL_FILE: file('db-url', 'postgres://app:s3cret@db:5432/app?sslmode=verify-full\r\n'),
      },
      envFile: false,
    });
    expect(config.DATABASE_URL).toBe('postgres://app:s3cret@db:5432/app?sslmode=verify-full');
  });

  it('when both NAME and NAME_FILE are set, then loading fails naming both', () => {
    expect(
      problems({
        API_TOKEN: 'a-token-of-enough-length',
        API_TOKEN_FILE: file('t2', 'another-token-0123456'),
      }),
    ).toEqual(['API_TOKEN: set either API_TOKEN or API_TOKEN_FILE, not both']);
  });

  it('when NAME_FILE names a missing or unreadable file, then loading fails naming NAME_FILE and the path', () => {
    const missing = join(dir, 'missing');
    expect(problems({ API_TOKEN_FILE: missing })).toEqual([
      `API_TOKEN_FILE: cannot read ${JSON.stringify(missing)} (ENOENT)`,
    ]);
    expect(problems({ API_TOKEN_FILE: dir })).toEqual([
      `API_TOKEN_FILE: cannot read ${JSON.stringify(dir)} (EISDIR)`,
    ]);
    // Other problems are still listed with it.
    expect(problems({ API_TOKEN_FILE: missing, PORT: 'eighty' })).toHaveLength(2);
  });

  it('when the file is empty or its value is malformed, then the error says so without showing the value', () => {
    expect(problems({ API_TOKEN_FILE: file('empty', '\n') })).toEqual([
      'API_TOKEN: expected a secret of at least 16 characters (API_TOKEN_FILE names an empty file)',
    ]);
    expect(
      problems({
        API_TOKEN: 'a-token-of-enough-length',
        DATABASE_URL_FILE: file('bad-url', 'mysql://u:p@h/x'),
      }),
    ).toEqual([
      'DATABASE_URL: expected a URL starting with postgres:// or postgresql:// (read from DATABASE_URL_FILE: "<15 characters, hidden>")',
    ]);
  });

  it('when a setting is neither a secret nor a URL, then NAME_FILE is not read for it', () => {
    const config = loadConfig(schema, {
      env: { API_TOKEN: 'a-token-of-enough-length', PORT_FILE: file('port', '9000') },
      envFile: false,
    });
    expect(config.PORT).toBe(8002);
  });
});

describe('env.file()', () => {
  it('when the path is readable, then the setting is the path', () => {
    const cert = file('cert.pem', '-----BEGIN CERTIFICATE-----\n');
    const config = loadConfig(schema, {
      env: { API_TOKEN: 'a-token-of-enough-length', CERT_FILE: cert },
      envFile: false,
    });
    expect(config.CERT_FILE).toBe(cert);
  });

  it('when the path is missing or a folder, then loading fails naming the setting and the path', () => {
    const missing = join(dir, 'nope.pem');
    expect(problems({ API_TOKEN: 'a-token-of-enough-length', CERT_FILE: missing })).toEqual([
      `CERT_FILE: expected the path of a readable file (ENOENT) (got ${JSON.stringify(missing)})`,
    ]);
    expect(problems({ API_TOKEN: 'a-token-of-enough-length', CERT_FILE: dir })).toEqual([
      `CERT_FILE: expected the path of a readable file (EISDIR) (got ${JSON.stringify(dir)})`,
    ]);
  });
});
