import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderBanner } from '../../scripts/quickstart/banner.js';
import { loadQuickstartSettings } from '../../scripts/quickstart/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'scoreline-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secretFile = join(dir, 'jwt');
writeFileSync(secretFile, `${'s'.repeat(40)}\n`);
const noEnvFile = join(dir, 'missing.env');

describe('the quick start says where each setting comes from', () => {
  it('when a secret is given as <NAME>_FILE in the environment, then it counts as from the environment', () => {
    const loaded = loadQuickstartSettings({ JWT_SECRET_FILE: secretFile }, noEnvFile);
    expect(loaded.settings.JWT_SECRET).toBe('s'.repeat(40));
    expect(loaded.sourceOf('JWT_SECRET')).toBe('environment');
    expect(loaded.sourceOf('LINE_PROVIDER_ADMIN_TOKEN')).toBe('default');
  });

  it('when a secret is given as <NAME>_FILE in .env, then it counts as from .env', () => {
    const envFile = join(dir, 'file.env');
    writeFileSync(envFile, `JWT_SECRET_FILE=${secretFile}\n`);
    const loaded = loadQuickstartSettings({}, envFile);
    expect(loaded.settings.JWT_SECRET).toBe('s'.repeat(40));
    expect(loaded.sourceOf('JWT_SECRET')).toBe('.env');
  });

  it('when the environment sets a variable empty over .env, then it is unset and the default applies', () => {
    const envFile = join(dir, 'port.env');
    writeFileSync(envFile, 'SCORE_MAKER_HTTP_PORT=9100\n');
    const loaded = loadQuickstartSettings({ SCORE_MAKER_HTTP_PORT: '' }, envFile);
    expect(loaded.settings.SCORE_MAKER_HTTP_PORT).toBe(8002);
    expect(loaded.sourceOf('SCORE_MAKER_HTTP_PORT')).toBe('default');
  });

  it('when the secret comes from a file, then the banner names its source and never prints it', () => {
    const loaded = loadQuickstartSettings(
      { JWT_SECRET_FILE: secretFile, SCORELINE_DATA_DIR: dir },
      noEnvFile,
    );
    const banner = renderBanner({
      loaded,
      seconds: 1,
      apiUrl: 'http://127.0.0.1:8002',
      lineProviderAddress: '127.0.0.1:50051',
      adminToken: 'admin-token',
      demoToken: 'demo-token',
      eventId: 1,
      webApp: true,
    });
    expect(banner).toMatch(/JWT_SECRET \[from the environment\]/);
    expect(banner).not.toContain('s'.repeat(40));
    expect(banner).toContain('web app        http://127.0.0.1:8002/');
  });
});
