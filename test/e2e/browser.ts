import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { repoRoot } from './walkthrough.js';

// Code passed to page.evaluate runs in the browser: these name its globals for the compiler, without
// the DOM library (which would retype fetch and streams for the whole Node.js program).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;

/** Debian's Chromium (CI installs it with apt when it is missing); `npx playwright install` cannot run here. */
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(repoRoot, 'test-results', 'screenshots');
export const WIDTHS = { phone: 360, desktop: 1280 } as const;

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Builds web/dist when it is missing, the way `npm start` does (into a folder of its own, renamed into
 * place, so that test files building at once do not collide); the API processes only serve it.
 */
export function ensureWebApp(): void {
  const script = `import('./scripts/quickstart/web-app.mjs').then((m) => m.ensureWebApp(new URL('file://${repoRoot}/')))`;
  const built = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  expect(built.status).toBe(0);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** axe-core on the page as it is: the serious and critical violations, by rule and element. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the app's content security policy allows no inline script.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: Violation[] }> } }).axe;
    interface Violation {
      id: string;
      impact: string | null;
      help: string;
      nodes: { target: unknown[] }[];
    }
    return (await axe.run()).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => JSON.stringify(n.target)),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join(', ')})`);
}

/**
 * The page at phone and desktop widths: a screenshot of each (test-results/screenshots/<name>-<width>.png)
 * and no serious or critical accessibility violation at either.
 */
export async function screenshotAndCheck(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const { height } = page.viewportSize() ?? { height: 900 };
  for (const width of Object.values(WIDTHS)) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
    // Nothing may be wider than the screen: no sideways scrolling at 360 px.
    const wider = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter(
          (e: any) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'),
        )
        .slice(0, 5)
        .map(
          (e: any) =>
            `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`,
        ),
    );
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${name} at ${width} px scrolls sideways: ${wider.join(', ')}`).toBeLessThanOrEqual(0);
    expect(await accessibilityViolations(page), `${name} at ${width} px`).toEqual([]);
  }
}

/**
 * Records every text an element matching `selector` shows, in order, from now on (a MutationObserver
 * in the page): a state that lasts a few milliseconds is still seen.
 */
export async function recordTexts(page: Page, selector: string): Promise<() => Promise<string[]>> {
  await page.evaluate((sel) => {
    const seen: string[] = [];
    (window as unknown as { __texts: string[] }).__texts = seen;
    const look = () => {
      const text = document.querySelector(sel)?.textContent?.trim();
      if (text !== undefined && seen.at(-1) !== text) seen.push(text);
    };
    new (
      window as { MutationObserver: new (f: () => void) => { observe(n: unknown, o: object): void } }
    ).MutationObserver(look).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
    });
    look();
  }, selector);
  return () => page.evaluate(() => [...(window as unknown as { __texts: string[] }).__texts]);
}
