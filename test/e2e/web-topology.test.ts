import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebApp, launchChromium, screenshotAndCheck } from './browser.js';
import { openTopology, type Topology } from './topology-processes.js';
import { cli, type Proc } from './walkthrough.js';

/**
 * The web app against the production entry points as separate processes (PostgreSQL, Redis): scoring
 * live, and the operations console watching a saga stuck while line-provider is down.
 */
describe('the web app and the operations console against separate processes (Chromium)', () => {
  let topology: Topology;
  let api = '';
  let lineProvider: Proc;
  let browser: Browser;
  let eventId = 0;

  const sign = (sub: string, claims: Record<string, unknown> = {}) => topology.token(sub, claims);
  const startLineProvider = async () => {
    lineProvider = await topology.start('services/line-provider/src/main.ts', 'line-provider listening');
  };
  const signInWithToken = async (page: Page, path: string, token: string) => {
    await page.goto(`${api}${path}`);
    await page.getByLabel('Bearer token').fill(token);
    await page.getByRole('button', { name: 'Sign in with token' }).click();
  };

  beforeAll(async () => {
    ensureWebApp();
    topology = await openTopology('web-topology', {
      LINE_PROVIDER_CALL_TIMEOUT: '500ms',
      // A saga gives up quickly and its compensation counts as stuck after 2 s; its retries stay slow
      // enough for the console to show it stuck until line-provider is back, or a re-drive.
      SAGA_MAX_ATTEMPTS: '2',
      SAGA_TIMEOUT: '1s',
      SAGA_BACKOFF_INITIAL: '100ms',
      SAGA_BACKOFF_MAX: '300ms',
      SAGA_REVERT_BACKOFF_MAX: '20s',
      SAGA_SWEEP_AFTER: '60s',
      SAGA_STUCK_AFTER: '2s',
    });
    await startLineProvider();
    await topology.start('services/score-maker/src/main-worker.ts', 'score-maker worker started');
    await topology.start('services/score-maker/src/main-api.ts', 'score-maker API listening');
    api = topology.api;
    const created = await cli(
      ['events', 'create', '--title', 'Topology derby', '--deadline', '+1d', '--json'],
      topology.cliEnv,
    );
    expect(created.code, created.out).toBe(0);
    eventId = (JSON.parse(created.out.slice(created.out.indexOf('{'))) as { id: number }).id;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await topology?.dispose();
  });

  it('when a user signs in with a pasted token and scores, then it is confirmed live; "sign in as" is not offered', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(api);
    await page.getByRole('button', { name: 'Sign in with token' }).waitFor();
    expect(await page.getByRole('button', { name: /Sign in as/ }).count()).toBe(0);
    expect((await fetch(`${api}/quickstart/sign-in`)).status).toBe(404);
    await signInWithToken(page, '/', await sign('carla'));
    const card = page.getByTestId(`event-${eventId}`);
    await card.getByRole('button', { name: '3 stars' }).click();
    await expect
      .poll(() => card.getByTestId('my-score-status').textContent(), { timeout: 30_000 })
      .toBe('Confirmed');
    await expect
      .poll(() => card.getByTestId('histogram-3').locator('.bar-count').textContent())
      .toMatch(/^1/);
    await page.close();
  });

  it('when a token has no admin role, then there is no console for it', async () => {
    const page = await browser.newPage();
    await signInWithToken(page, '/console', await sign('not-an-admin'));
    await page.getByTestId('console-denied').waitFor();
    expect(await page.getByTestId('console-denied').textContent()).toContain('admin');
    expect(await page.getByRole('heading', { name: 'Sagas in flight' }).count()).toBe(0);
    await screenshotAndCheck(page, 'console-no-access');
    await page.close();
  });

  it('when line-provider is down, then the console shows the saga stuck with the error, and a re-drive once it is back takes it off the list', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signInWithToken(page, '/console', await sign('ops', { roles: ['admin'] }));
    await page.getByTestId('no-sagas').waitFor();

    expect(await lineProvider.stop()).toBe(0);
    const posted = await fetch(`${api}/events/${eventId}/score`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await sign('dora')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ score: 2 }),
    });
    expect(posted.status).toBe(202);
    const { id } = (await posted.json()) as { id: string };
    const row = page.getByTestId(`saga-${id}`);
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toContain('stuck');
    expect(await page.getByTestId('line-provider-state').textContent()).toContain('unreachable');
    // The worker recorded why the step failed.
    await expect.poll(() => row.locator('.error-text').textContent()).not.toBe('–');
    expect(await page.getByTestId('saga-counts').textContent()).toContain('1 stuck');
    await screenshotAndCheck(page, 'console-stuck');

    await startLineProvider();
    await expect
      .poll(() => page.getByTestId('line-provider-state').textContent(), { timeout: 30_000 })
      .toContain('reachable');
    await row.getByRole('button', { name: /Re-drive now/ }).click();
    await page.getByTestId('no-sagas').waitFor({ timeout: 15_000 });
    await expect
      .poll(() => page.getByTestId('compensations').textContent(), { timeout: 10_000 })
      .toContain('UNAVAILABLE');
    const score = (await (
      await fetch(`${api}/scores/${id}`, { headers: { authorization: `Bearer ${await sign('dora')}` } })
    ).json()) as { status: string; reason: string };
    expect(score).toMatchObject({ status: 'REJECTED', reason: 'UNAVAILABLE' });
    // line-provider's backlog comes from a call of its own, refreshed every 2 s like the rest: the
    // figures show once a refresh after its restart has answered.
    const outbox = page.getByTestId('outbox');
    await expect.poll(() => outbox.textContent(), { timeout: 15_000 }).toMatch(/line-provider\d/);
    expect(await outbox.textContent()).toContain('score-maker');
    await screenshotAndCheck(page, 'console');
    await page.close();

    // The user whose score was compensated sees why.
    const mine = await browser.newPage();
    await signInWithToken(mine, '/', await sign('dora'));
    const card = mine.getByTestId(`event-${eventId}`);
    await card.getByTestId('my-score-reason').waitFor();
    expect(await card.getByTestId('my-score-status').textContent()).toBe('Rejected');
    expect(await card.getByTestId('my-score-reason').textContent()).toBe(
      'Not counted: the service did not answer in time.',
    );
    await mine.close();
  });
});
