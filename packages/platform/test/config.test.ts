import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, env, loadConfig } from '../src/index.js';

const schema = {
  PORT: env.port(8002),
  DATABASE_URL: env.url(['postgres:', 'postgresql:', 'pglite:']),
  LOG_LEVEL: env.logLevel(),
  RETRY_TIMEOUT: env.duration('30s'),
  RELAY_BATCH: env.integer(200, { min: 1, max: 5000 }),
  METRICS: env.boolean(false),
};

describe('loadConfig', () => {
  it('when every value is valid or defaulted, then it returns a frozen typed object', () => {
    const config = loadConfig(schema, {
      env: { DATABASE_URL: 'postgres://db/x', RETRY_TIMEOUT: '5m' },
      envFile: false,
    });
    expect(config).toEqual({
      PORT: 8002,
      DATABASE_URL: 'postgres://db/x',
      LOG_LEVEL: 'info',
      RETRY_TIMEOUT: 300_000,
      RELAY_BATCH: 200,
      METRICS: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('when a value is malformed, then it throws naming the variable, what it expects and what it got', () => {
    const attempt = () =>
      loadConfig(schema, { env: { DATABASE_URL: 'postgres://db/x', PORT: '80a' }, envFile: false });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/PORT: expected a TCP port \(0-65535\) \(got "80a"\)/);
  });

  it('when a required value is missing and others are out of range, then every problem is listed', () => {
    try {
      loadConfig(schema, {
        env: { RELAY_BATCH: '0', LOG_LEVEL: 'loud', RETRY_TIMEOUT: 'soon' },
        envFile: false,
      });
      expect.unreachable('loadConfig should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(
        /DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\/ or pglite:\/\/ \(it is not set\)/,
      );
      expect(problems).toMatch(/RELAY_BATCH: expected an integer between 1 and 5000 \(got "0"\)/);
      expect(problems).toMatch(
        /LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/,
      );
      expect(problems).toMatch(
        /RETRY_TIMEOUT: expected a duration such as 500ms, 30s, 5m or 24h \(got "soon"\)/,
      );
    }
  });

  it('when a .env file exists, then it fills gaps and the environment wins over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scoreline-config-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'DATABASE_URL=pglite://memory\nPORT=9000\n# a comment\nMETRICS=true\n');
    const config = loadConfig(schema, { env: { PORT: '9100' }, envFile: file });
    expect(config.DATABASE_URL).toBe('pglite://memory');
    expect(config.PORT).toBe(9100);
    expect(config.METRICS).toBe(true);
  });

  it('when a variable is set to an empty string, then it counts as unset', () => {
    const config = loadConfig(schema, { env: { DATABASE_URL: 'postgres://db/x', PORT: '' }, envFile: false });
    expect(config.PORT).toBe(8002);
  });
});

describe('loadConfig with secrets', () => {
  it('when a secret or a URL with a password is rejected, then the error does not echo it', () => {
    const secrets = { ADMIN_TOKEN: env.secret(16), DATABASE_URL: env.url(['postgres:']), PORT: env.port(1) };
    try {
      loadConfig(secrets, {
        env: { ADMIN_TOKEN: 'hunter2', DATABASE_URL: 'mysql://u:pw@h/db', PORT: 'x' },
        envFile: false,
      });
      expect.unreachable('loadConfig should have thrown');
    } catch (error) {
      const message = (error as ConfigError).message;
      expect(message).toContain(
        'ADMIN_TOKEN: expected a secret of at least 16 characters (got "<7 characters, hidden>")',
      );
      expect(message).toContain(
        'DATABASE_URL: expected a URL starting with postgres:// (got "mysql://u:***@h/db")',
      );
      expect(message).not.toContain('hunter2');
      expect(message).not.toContain(':pw@');
    }
  });
});
