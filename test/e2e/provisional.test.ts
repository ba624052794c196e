import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, startService, TestClock, watchErrors, type Browser, type Service } from './support.ts';

declare const document: any;

// Issue 10 in a real browser: a case opened on 2026-12-20, before the 2027 holiday notice, shows
// its provisional dates as 预计 with the explanation on the case page and in the inbox; the admin
// calendar screen warns that 2027 is missing.

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM}`);

const applicant = { name: '张三丰', idNumber: '11010519491231002X', phone: '13800138000', bankCard: '6222020200112233445' };
const application = { householdSize: 3, monthlyHouseholdIncomeFen: 120000, reason: '因病致贫，家庭收入低于当地低保标准' };

describe.skipIf(!hasChromium)('provisional due dates in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  let caseId = '';

  async function post(url: string, body: unknown, token?: string): Promise<any> {
    const res = await fetch(`${service.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const json = await res.json();
    expect(res.status < 300, JSON.stringify(json)).toBe(true);
    return json;
  }

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db, new TestClock(new Date('2026-12-20T02:00:00Z'))); // Sun 20 Dec, 10:00 China time
    browser = await launchBrowser();
    const { token } = await post('/api/auth/login', { username: 'clerk.beishan', password: DEMO_PASSWORD });
    const opened = await post('/api/cases', { procedureId: 'social-assistance', applicant, application }, token);
    await post(`/api/cases/${opened.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 }, token);
    caseId = opened.id;
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  const text = async (p: Page, selector: string) => ((await p.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();

  it('reads 预计 with the caveat on the case page and in the inbox, with a 预计 badge that explains itself', async () => {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await logIn(p, service.url, 'verify.xihu');
    await p.waitForURL((u) => !u.pathname.startsWith('/login'));
    await p.goto(`${service.url}/inbox`);
    await p.locator('tr[data-task]').first().waitFor();
    const row = await text(p, 'tr[data-task]');
    expect(row).toMatch(/预计 2027年1月\d+日前（以国务院公布的节假日安排为准）/);
    const badge = p.locator('tr[data-task] [data-provisional]').first();
    expect((await badge.textContent())?.startsWith('预计')).toBe(true);
    expect(await badge.getAttribute('title')).toContain('以国务院公布的节假日安排为准');

    await p.goto(`${service.url}/cases/${caseId}`);
    await p.locator('[data-case-deadline]').waitFor();
    expect(await text(p, '[data-case-deadline]')).toBe('预计 2027年2月1日前（以国务院公布的节假日安排为准）');
    await p.waitForFunction(() => document.querySelector('.deadline [data-provisional]') !== null);
    expect(await text(p, '.open-tasks')).toContain('预计 2027年');
    expect(errors).toEqual([]);
    await p.close();
  });

  it('warns the admin on the calendar screen that next year’s national schedule is missing', async () => {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await logIn(p, service.url, 'admin.xihu');
    await p.waitForURL(/\/admin\/calendars$/);
    await p.locator('.next-year-missing').waitFor();
    expect(await text(p, '.next-year-missing')).toContain('2027年全国节假日安排尚未加载');
    expect(await text(p, '.next-year-missing')).toContain('以国务院公布的节假日安排为准');
    expect(errors).toEqual([]);
    await p.close();
  });
});
