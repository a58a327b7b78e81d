import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '@scoreline/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordTexts, screenshotAndCheck } from './browser.js';
import { startQuickstart, targetFrom } from './quickstart-process.js';
import { cli, repoRoot, type Proc, type Target } from './walkthrough.js';

// Code passed to page.evaluate runs in the browser: these name its globals for the compiler, without
// the DOM library (which would retype fetch and streams for the whole Node.js program).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;

interface ApiEvent {
  id: number;
  title: string;
}

async function quickstart(env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'scoreline-web-'));
  const ports = { http: String(await freePort()), grpc: String(await freePort()) };
  const proc = await startQuickstart({
    SCORELINE_DATA_DIR: dataDir,
    SCORE_MAKER_HTTP_PORT: ports.http,
    LINE_PROVIDER_GRPC_PORT: ports.grpc,
    ...env,
  });
  expect(proc.output()).toContain('Scoreline is ready');
  return { dataDir, ports, proc, target: targetFrom(proc.output(), ports.http, ports.grpc) };
}

/** The web app in Chromium against `npm start`'s entry point: sign in, score, and watch it all live. */
describe('the web app on npm start (Chromium)', () => {
  let proc: Proc | undefined;
  let dataDir = '';
  let target: Target;
  let browser: Browser;
  let page: Page;
  let events: ApiEvent[];

  beforeAll(async () => {
    ({ proc, dataDir, target } = await quickstart());
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    events = ((await (await fetch(`${target.api}/events`)).json()) as { events: ApiEvent[] }).events;
    expect(events.length).toBeGreaterThanOrEqual(2);
  });
  afterAll(async () => {
    await browser?.close();
    await proc?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const card = (eventId: number) => page.getByTestId(`event-${eventId}`);

  it('when opened signed out, then it lists the open events with their totals, offers both ways to sign in, and a bad token is a readable message', async () => {
    await page.goto(target.api);
    await expect.poll(() => page.getByTestId('live-state').textContent()).toBe('Live');
    for (const event of events) await card(event.id).getByRole('heading', { name: event.title }).waitFor();
    expect(await card(events[0]!.id).getByTestId('event-summary').textContent()).toContain('No scores yet');
    expect(await card(events[0]!.id).locator('time').textContent()).toMatch(/closes in \d{2}:\d{2}:\d{2}/);
    await page.getByRole('button', { name: /Sign in as/ }).waitFor();

    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-secret-of-this-api-0123456789'));
    await page.getByLabel('Bearer token').fill(forged);
    await page.getByRole('button', { name: 'Sign in with token' }).click();
    await expect.poll(() => page.getByTestId('message').textContent()).toContain('Your sign-in is not valid');
    await page.getByRole('button', { name: 'Dismiss' }).click();
    await screenshotAndCheck(page, 'app-signed-out');
  });

  it('when a user signs in by name and scores with the keyboard, then the score goes PENDING to CONFIRMED without a reload; a change too; closing the event with the CLI marks it final', async () => {
    const event = events[0]!;
    await page.getByLabel('Name').fill('alice');
    await page.getByRole('button', { name: 'Sign in as alice' }).click();
    await page.getByTestId('signed-in-as').getByText('alice').waitFor();
    await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));

    const status = `[data-testid=event-${event.id}] [data-testid=my-score-status]`;
    let seen = await recordTexts(page, status);
    // Keyboard only: to the first star, Tab on to the fourth, Enter.
    await card(event.id).getByRole('button', { name: '1 star', exact: true }).focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('4 stars');
    await page.keyboard.press('Enter');
    await expect.poll(seen, { timeout: 30_000 }).toEqual(['Pending', 'Confirmed']);
    expect(await card(event.id).getByTestId('my-score').textContent()).toContain('4★');
    await expect
      .poll(() => card(event.id).getByTestId('histogram-4').locator('.bar-count').textContent())
      .toMatch(/^1/);

    // A change: Shift+Tab back to the second star, Space. The focus stayed on the fourth star while the
    // score was sent and settled.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('4 stars');
    seen = await recordTexts(page, status);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Space');
    await expect.poll(seen, { timeout: 30_000 }).toEqual(['Confirmed', 'Pending', 'Confirmed']);
    await expect.poll(() => card(event.id).getByTestId('my-score').textContent()).toContain('2★');
    await expect
      .poll(() => card(event.id).getByTestId('event-summary').textContent())
      .toContain('average 2.00');
    await screenshotAndCheck(page, 'app-scored');

    const closed = await cli(['events', 'close', String(event.id)], target.cliEnv);
    expect(closed.code, closed.out).toBe(0);
    await card(event.id).getByTestId('my-score-final').waitFor({ timeout: 30_000 });
    expect(await card(event.id).getByRole('button', { name: '2 stars' }).count()).toBe(0);
    expect(await card(event.id).textContent()).toContain('Closed');
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
  });

  it('when npm start has built the app, then its JavaScript is within the budget of 60 KB gzipped', () => {
    const assets = join(repoRoot, 'web', 'dist', 'assets');
    const scripts = readdirSync(assets).filter((name) => name.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.reduce((sum, name) => sum + gzipSync(readFileSync(join(assets, name))).length, 0);
    console.log(`web app JavaScript: ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(gzipped).toBeLessThanOrEqual(60 * 1024);
  });

  it("when another user's score is sent over the API, then the event's histogram moves on screen", async () => {
    const event = events[1]!;
    const signIn = await fetch(`${target.api}/quickstart/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bob' }),
    });
    const { token } = (await signIn.json()) as { token: string };
    const bar = card(event.id).getByTestId('histogram-5').locator('.bar-count');
    expect(await bar.textContent()).toMatch(/^0/);
    const posted = await fetch(`${target.api}/events/${event.id}/score`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ score: 5 }),
    });
    expect(posted.status).toBe(202);
    await expect.poll(() => bar.textContent(), { timeout: 30_000 }).toMatch(/^1/);
    expect(await card(event.id).getByTestId('event-summary').textContent()).toContain('average 5.00');
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
  });
});

describe('the web app on npm start with JWT_SECRET set by hand', () => {
  it('when the quick start does not run on its generated secret, then "sign in as" is off, in the API and on the page', async () => {
    const { proc, dataDir, target } = await quickstart({
      JWT_SECRET: 'a-secret-set-by-hand-of-at-least-32-characters',
    });
    const browser = await launchChromium();
    try {
      const res = await fetch(`${target.api}/quickstart/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'eve' }),
      });
      expect(res.status).toBe(404);
      const page = await browser.newPage();
      await page.goto(target.api);
      await page.getByRole('button', { name: 'Sign in with token' }).waitFor();
      expect(await page.getByRole('button', { name: /Sign in as/ }).count()).toBe(0);
      // The banner's token works with the pasted-token sign-in.
      await page.getByLabel('Bearer token').fill(target.token);
      await page.getByRole('button', { name: 'Sign in with token' }).click();
      await page.getByTestId('signed-in-as').getByText('demo').waitFor();
    } finally {
      await browser.close();
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
