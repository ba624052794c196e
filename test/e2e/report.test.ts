import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { applicant } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// Issue 9, 月报告 in a real browser: a supervisor opens the month's report, reads the figures the
// API computed, the on-time chart and the tables, and downloads the CSV and the Excel file.

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM}`);

describe.skipIf(!hasChromium)('the 月报告 screen', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;

  const tokens = new Map<string, string>();
  async function as(username: string) {
    if (!tokens.has(username)) {
      const res = await fetch(`${service.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: DEMO_PASSWORD }) });
      tokens.set(username, ((await res.json()) as { token: string }).token);
    }
    const headers = { authorization: `Bearer ${tokens.get(username)}`, 'content-type': 'application/json' };
    return {
      get: async (url: string) => (await fetch(service.url + url, { headers })).json() as Promise<any>,
      post: async (url: string, body: object) => {
        const res = await fetch(service.url + url, { method: 'POST', headers, body: JSON.stringify(body) });
        expect(res.status, await res.clone().text()).toBeLessThan(300);
        return res.json() as Promise<any>;
      },
    };
  }
  async function send(user: string, id: string, type: string, data: object = {}) {
    const c = await as(user);
    const { version } = await c.get(`/api/cases/${id}`);
    await c.post(`/api/cases/${id}/events`, { type, data, expectedVersion: version });
  }
  const application = { deceased: { name: '李四', idNumber: '11010519491231002X', dateOfDeath: '2026-02-25' }, relationship: '子女', branches: { pension: false, medicalInsurance: false, housingFund: false, socialSecurityCard: false } };

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db);
    browser = await launchBrowser();
    // 身后一件事: one finished on time (03-02 → 03-05, 3 WD), one refused, one still open (21 WD at the month end: overdue).
    service.clock.current = new Date('2026-03-02T01:30:00Z');
    const clerk = await as('clerk.beishan');
    const onTime = (await clerk.post('/api/cases', { procedureId: 'funeral', applicant, application })).id;
    await send('clerk.beishan', onTime, 'ACCEPT');
    const refused = (await clerk.post('/api/cases', { procedureId: 'funeral', applicant, application })).id;
    await send('clerk.beishan', refused, 'REJECT_APPLICATION', { reason: '不属于本辖区' });
    const open = (await clerk.post('/api/cases', { procedureId: 'funeral', applicant, application })).id;
    await send('clerk.beishan', open, 'ACCEPT');
    service.clock.current = new Date('2026-03-05T01:30:00Z');
    await send('police.xihu', onTime, 'HOUSEHOLD_DONE');
    await send('funeralhome.xihu', onTime, 'CREMATION_DONE');
    await send('county.xihu', onTime, 'FUNERAL_SUBSIDY_DONE');
    service.clock.current = new Date('2026-04-01T01:30:00Z');
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  it('shows the month per procedure and department with an on-time chart, and downloads CSV and Excel', async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await logIn(page, service.url, 'supervisor.xihu');
    await page.waitForURL(/\/supervision$/);
    await page.goto(`${service.url}/supervision/report?month=2026-03`);
    await page.locator('table.figures').first().waitFor();
    expect(await page.title()).toBe('月报告 - 一窗通办');
    expect(await page.locator('input#report-month').inputValue()).toBe('2026-03');
    expect(await page.locator('#report-region').inputValue()).toBe('330106');

    const funeral = page.locator('table.figures').first().locator('tr', { hasText: '身后一件事' });
    const cells = await funeral.locator('td').allTextContents();
    // 收件 受理 不予受理 办结 按时办结 按时办结率 在办 超期 平均 P90 补正率 评价数 满意率 整改 回访率
    expect(cells.map((c) => c.trim())).toEqual(['3', '2', '1', '2', '2', '100.0%', '1', '1', '1.5', '3', '0.0%', '—', '—', '—', '—']);
    const chart = page.locator('svg.chart');
    expect(await chart.getAttribute('role')).toBe('img');
    expect(await chart.locator('desc').textContent()).toBe('身后一件事（逝者相关事项联办）：100.0%（办结2件）');
    expect(await page.locator('table.figures').nth(1).locator('th[scope=row]').allTextContents()).toContain('乡镇（街道）便民服务窗口');
    expect(await seriousViolations(page), '月报告').toEqual([]);

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '下载 CSV' }).click()]);
    expect(csv.suggestedFilename()).toBe('月报告-330106-2026-03.csv');
    const text = fs.readFileSync((await csv.path())!, 'utf8');
    expect(text.startsWith('\uFEFF类别,名称,收件数')).toBe(true);
    expect(text).toContain('事项,身后一件事（逝者相关事项联办）,3,2,1,2,2,100.0%,1,1,1.5,3,0,0.0%');
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '下载 Excel' }).click()]);
    expect(xlsx.suggestedFilename()).toBe('月报告-330106-2026-03.xlsx');
    expect(fs.readFileSync((await xlsx.path())!).subarray(0, 2).toString()).toBe('PK');

    // A future month: the service's message, no console error.
    await page.goto(`${service.url}/supervision/report?month=2026-05`);
    await page.locator('[role=alert]').waitFor();
    expect(await page.locator('[role=alert]').textContent()).toContain('尚未开始');
    expect(errors).toEqual([]);
  });

  it('is not offered to other roles', async () => {
    const page = await browser.context.newPage();
    await logIn(page, service.url, 'clerk.beishan');
    await page.waitForURL(/\/window$/);
    await page.goto(`${service.url}/supervision/report`);
    await page.waitForURL(/\/window$/);
  });
});
