import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildApp } from '../../src/http/app.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { WEB_DIST } from '../../scripts/build-web.ts';

// Page-side globals inside page.evaluate callbacks (the root tsconfig has no DOM library).
declare const document: any;
declare const window: any;


/*
 * The real service for browser tests and screenshots: buildApp with the built workbench,
 * listening on a free port, on a seeded test database; and Debian's Chromium driven by
 * playwright-core (never a downloaded browser).
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = fs.existsSync(CHROMIUM);

/** A clock the test moves (test/support/app.ts's TestClock, without importing vitest here: the screenshots script uses this file). */
export class TestClock {
  constructor(public current = new Date('2026-03-02T01:30:00Z')) {}
  now = () => new Date(this.current);
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface Service {
  url: string;
  app: FastifyInstance;
  clock: TestClock;
  close(): Promise<void>;
}

export async function startService(db: Knex, clock = new TestClock()): Promise<Service> {
  await seedDemo(db);
  const engine = createEngine({ clock: clock.now, cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  // Real rate limits: the tests log in a handful of times and show a 429 on purpose.
  const app = await buildApp({ db, engine, sessionHours: 24, webRoot: WEB_DIST });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, app, clock, close: () => app.close() };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Console errors and uncaught exceptions of a page (the browser's own log of a 4xx answer aside). */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // Chromium logs every non-2xx fetch; a refused login or a 422 is the API working, not the UI failing.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource: the server responded with a status of')) errors.push(msg.text());
  });
  return errors;
}

export async function logIn(page: Page, url: string, username: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto(`${url}/login`);
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('#password').press('Enter');
}

const require = createRequire(import.meta.url);
let axeSource: string | null | undefined;

/** axe-core's source, or null when it is not installed. */
export function axe(): string | null {
  if (axeSource === undefined) {
    try {
      axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    } catch {
      axeSource = null;
    }
  }
  return axeSource;
}

/**
 * Serious and critical axe violations of the page as it is now. axe is evaluated through the
 * DevTools protocol, which the page's CSP does not govern, so the CSP stays on for the test.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  const source = axe();
  if (!source) return [];
  // Element Plus fades dialogs and field errors in: a half-transparent text fails contrast for a
  // moment. Check the settled page (spinners loop forever and are left out).
  await page.waitForFunction(() => document.getAnimations().every((a: any) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity));
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const result = await (window as { axe: { run(ctx: unknown, o: object): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run(document, {
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} @ ${v.targets.join(', ')}`);
}
