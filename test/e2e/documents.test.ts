import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';
import { pdfText } from './pdfText.ts';

// Issue 8, screen 2's documents in a real browser: the 一次性告知书 a 补正 issues and the
// 不予受理通知书 a refusal issues, each printed to an A4 PDF by Chromium and read back with
// pdftotext; and a department with no part in the case opening the same address sees nothing.

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM} (Debian: apt-get install -y chromium; or set CHROMIUM_PATH)`);

describe.skipIf(!hasChromium)("the window's documents in Chromium", () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db);
    browser = await launchBrowser();
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  async function api(username: string) {
    const login = await fetch(`${service.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: DEMO_PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    return async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${service.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json()) as any;
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
  }

  /** A 低保 case opened at 北山街道's window, and the clerk's event on it (setup through the API). */
  async function caseWith(name: string, type: string, data: object) {
    const clerk = await api('clerk.beishan');
    const opened = await clerk('POST', '/api/cases', {
      procedureId: 'social-assistance',
      applicant: { name, idNumber: '11010519491231002X', phone: '13800138000' },
      application: { householdSize: 2, monthlyHouseholdIncomeFen: 90000, reason: '因病致贫，家庭收入低于当地低保标准', submittedMaterials: ['application-form'] },
    });
    await clerk('POST', `/api/cases/${opened.id}/events`, { type, data, expectedVersion: 1 });
    const view = await clerk('GET', `/api/cases/${opened.id}`);
    return { id: opened.id as string, reference: opened.reference as string, view };
  }

  async function clerkPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await logIn(page, service.url, 'clerk.beishan');
    await page.waitForURL(/\/window$/);
    return { page, errors };
  }

  /** The page printed as Chromium prints it: the number of A4 pages and the text with whitespace removed. */
  async function printed(page: Page) {
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    return { pages: (pdf.toString('latin1').match(/\/Type\s*\/Page\b/g) ?? []).length, text: pdfText(pdf).replace(/\s+/g, '') };
  }

  it('the 一次性告知书 names every missing material, the deadline and the legal basis, and prints on one A4 page', async () => {
    const c = await caseWith('张三丰', 'REQUEST_SUPPLEMENT', {
      missingMaterials: ['id-hukou', 'income-declaration', 'verification-authorization'],
      note: '收入申报须由全体家庭成员签字',
    });
    const due = c.view.openTasks.find((t: any) => t.stateId === 'sa.supplement').deadlineText as string;
    expect(due).toMatch(/^2026年4月1日前$/);

    const { page, errors } = await clerkPage();
    await page.goto(`${service.url}/cases/${c.id}/notice/supplement`);
    await page.locator('.notice .reference').waitFor();
    const screen = (await page.locator('.notice').textContent()) ?? '';
    expect(screen).toContain('一次性告知书');
    expect(screen).toContain(c.reference);
    expect(await seriousViolations(page), '一次性告知书').toEqual([]);
    expect(await page.title()).toBe('一次性告知书 - 一窗通办');

    const pdf = await printed(page);
    expect(pdf.pages).toBe(1);
    for (const words of [
      '一次性告知书',
      c.reference,
      '张三丰',
      '最低生活保障（低保）申请',
      '居民身份证、户口簿',
      '家庭收入和财产状况申报',
      '家庭经济状况核对授权书',
      '收入申报须由全体家庭成员签字',
      `补正期限：${due}`,
      '《中华人民共和国行政许可法》第三十二条',
      '一次告知申请人需要补正的全部内容',
      '补正期间不计入办理时限',
      '逾期未补正的',
      '北山街道（演示）乡镇（街道）便民服务窗口（盖章）',
      '2026年3月2日',
      '北山街道窗口王敏',
    ]) expect(pdf.text, words).toContain(words);
    // Materials not asked for are not on the notice; the screen's buttons are not printed.
    expect(pdf.text).not.toContain('最低生活保障申请书');
    expect(pdf.text).not.toContain('打印');
    expect(pdf.text).not.toContain('返回办件');

    // The other document does not exist for this case: the service's message, no sheet, nothing to print.
    await page.goto(`${service.url}/cases/${c.id}/notice/rejection`);
    const alert = page.locator('[role=alert]');
    await alert.waitFor();
    expect((await alert.textContent())?.trim()).toBe('该办件未作出不予受理决定，没有不予受理通知书');
    expect(await page.locator('.notice').count()).toBe(0);
    expect(await page.getByRole('button', { name: '打印' }).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the 不予受理通知书 gives the reasons and the remedies, and prints on one A4 page', async () => {
    const reason = '申请人户籍不在本街道，请向户籍所在地街道（乡镇）申请';
    const c = await caseWith('李小龙', 'REJECT_APPLICATION', { reason });
    const { page, errors } = await clerkPage();
    await page.goto(`${service.url}/cases/${c.id}/notice/rejection`);
    await page.locator('.notice .reference').waitFor();
    expect(await seriousViolations(page), '不予受理通知书').toEqual([]);
    expect(await page.title()).toBe('不予受理通知书 - 一窗通办');

    const pdf = await printed(page);
    expect(pdf.pages).toBe(1);
    for (const words of [
      '不予受理通知书',
      c.reference,
      '李小龙',
      '决定不予受理',
      reason,
      '60日内申请行政复议',
      '6个月内提起行政诉讼',
      '《中华人民共和国行政许可法》第三十二条',
      '（盖章）',
      '2026年3月2日',
    ]) expect(pdf.text, words).toContain(words);
    expect(pdf.text).not.toContain('打印');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a department with no part in the case opening a notice address sees nothing of the case', async () => {
    const c = await caseWith('王五', 'REQUEST_SUPPLEMENT', { missingMaterials: ['id-hukou'] });
    const notices: number[] = [];

    // A reviewer of the police: the route is not theirs, so the workbench takes them home without asking for the notice.
    const police = await browser.context.newPage();
    const policeErrors = watchErrors(police);
    police.on('response', (r) => r.url().includes('/notices/') && notices.push(r.status()));
    await logIn(police, service.url, 'police.xihu');
    await police.waitForURL(/\/inbox$/);
    await police.goto(`${service.url}/cases/${c.id}/notice/supplement`);
    await police.waitForURL(/\/inbox$/);
    const policeText = (await police.locator('body').textContent()) ?? '';
    for (const secret of [c.reference, '王五', '一次性告知书', '居民身份证、户口簿']) expect(policeText).not.toContain(secret);
    expect(notices).toEqual([]);
    // And the API says nothing to them either.
    await expect((await api('police.xihu'))('GET', `/api/cases/${c.id}/notices/supplement`)).rejects.toThrow(/403.*ROLE_REQUIRED/);
    expect(policeErrors).toEqual([]);
    await police.close();

    // A clerk of another township's window passes the route but the service does not know the case for them.
    const other = await browser.context.newPage();
    const otherErrors = watchErrors(other);
    other.on('response', (r) => r.url().includes('/notices/') && notices.push(r.status()));
    await logIn(other, service.url, 'clerk.xixi');
    await other.waitForURL(/\/window$/);
    await other.goto(`${service.url}/cases/${c.id}/notice/supplement`);
    const alert = other.locator('[role=alert]');
    await alert.waitFor();
    expect((await alert.textContent())?.trim()).toBe('未找到该办件');
    expect(notices).toEqual([404]);
    const otherText = (await other.locator('main').textContent()) ?? '';
    for (const secret of [c.reference, '王五', '居民身份证、户口簿']) expect(otherText).not.toContain(secret);
    expect(await other.getByRole('button', { name: '打印' }).count()).toBe(0);
    expect(await seriousViolations(other), 'notice, not found').toEqual([]);
    expect(otherErrors).toEqual([]);
    await other.close();
  });
});
