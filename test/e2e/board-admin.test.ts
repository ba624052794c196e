import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// Page-side globals inside page.evaluate callbacks (the root tsconfig has no DOM library).
declare const document: any;
declare const window: any;

// Issue 8, screens 4 and 6 in a real browser: the supervisors' 督办看板 as time passes (journey
// d), and the admins' 工作日历 and 用户. Cases are opened through the API; time moves by the
// service's TestClock, never by sleeping.

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM}`);

const applicant = { name: '张三丰', idNumber: '11010519491231002X', phone: '13800138000', bankCard: '6222020200112233445' };
const application = { householdSize: 3, monthlyHouseholdIncomeFen: 120000, reason: '因病致贫，家庭收入低于当地低保标准' };

describe.skipIf(!hasChromium)('the supervision board and the administration in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  const beishan = { id: '', reference: '' };

  async function token(username: string, password = DEMO_PASSWORD): Promise<string> {
    const res = await fetch(`${service.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { token: string }).token;
  }

  async function post(tokenValue: string, url: string, body: unknown): Promise<any> {
    const res = await fetch(`${service.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenValue}` }, body: JSON.stringify(body) });
    const json = await res.json();
    expect(res.status < 300, JSON.stringify(json)).toBe(true);
    return json;
  }

  /** A 低保 case opened and accepted at the window: the township and verification tasks open. */
  async function openAccepted(clerk: string) {
    const t = await token(clerk);
    const opened = await post(t, '/api/cases', { procedureId: 'social-assistance', applicant, application });
    await post(t, `/api/cases/${opened.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
    return { id: opened.id as string, reference: opened.reference as string };
  }

  const setClock = (iso: string) => service.clock.advance(Date.parse(iso) - service.clock.current.getTime());

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db); // 2026-03-02 09:30 China time, a Monday
    browser = await launchBrowser();
    Object.assign(beishan, await openAccepted('clerk.beishan'));
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  async function page(): Promise<{ page: Page; errors: string[] }> {
    const p = await browser.context.newPage();
    return { page: p, errors: watchErrors(p) };
  }

  /** axe reads colours as drawn: let Element Plus's fade and zoom transitions finish first. */
  async function a11y(p: Page, screen: string) {
    await p.waitForFunction(() => document.getAnimations().every((a: any) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity));
    expect(await seriousViolations(p), screen).toEqual([]);
  }

  const text = async (p: Page, selector: string) => ((await p.locator(selector).first().textContent()) ?? '').trim();
  const count = (p: Page, department: string, bucket: string) => p.locator(`tr[data-department="${department}"] button[data-bucket="${bucket}"]`);

  it('(d) the supervisor board shows an overdue task after time is advanced, the list behind the number, and 红牌 after more days', async () => {
    // The verification task (10 working days from 03-02) is due at the end of 03-16, red 3
    // working days later (end of 03-19). Both steps within the 24-hour session of the test service.
    setClock('2026-03-19T02:00:00Z');
    const { page: p, errors } = await page();
    await logIn(p, service.url, 'supervisor.xihu');
    await p.waitForURL(/\/supervision$/);
    await count(p, 'county-verification', 'overdue').waitFor();
    expect(await text(p, 'nav')).toBe('督办待办');
    expect(await text(p, '.as-of')).toContain('截至 2026/03/19 10:00');
    expect(await count(p, 'county-verification', 'overdue').textContent()).toContain('1');
    expect((await count(p, 'county-verification', 'red').textContent())?.trim()).toBe('0');
    expect((await count(p, 'county-verification', 'open').textContent())?.trim()).toBe('1');
    // The chart: an image with a summary, and the numbers as a table for screen readers.
    expect(await p.locator('svg[role=img]').getAttribute('aria-label')).toMatch(/共受理1件/);
    expect(await p.locator('.day-chart table tbody tr').count()).toBe(30);
    // That table is hidden from sight, and must not stretch the page into blank space below the board.
    expect(await p.evaluate(() => document.documentElement.scrollHeight - Math.ceil(document.querySelector('.layout').getBoundingClientRect().bottom + window.scrollY))).toBeLessThanOrEqual(0);
    await a11y(p, '督办看板');

    await count(p, 'county-verification', 'overdue').click();
    const row = p.locator('.list .task-row');
    await row.first().waitFor();
    expect(await text(p, '#board-list-title')).toContain('超期（黄牌）');
    expect(await row.count()).toBe(1);
    expect(await text(p, '.list .reference')).toBe(beishan.reference);
    expect(await p.locator('.list .reference').getAttribute('href')).toBe(`/cases/${beishan.id}`);
    expect(await text(p, '.list .task-row .badge')).toBe('黄牌');
    await a11y(p, '督办看板明细');
    // Into the case and back: the same list, not the bare board.
    await p.locator('.list .reference').click();
    await p.waitForURL(new RegExp(`/cases/${beishan.id}$`));
    await p.goBack();
    await p.waitForURL(/\/supervision\?/);
    await row.first().waitFor();
    expect(await text(p, '#board-list-title')).toContain('县级居民家庭经济状况核对机构 · 超期（黄牌）');
    expect(await text(p, '.list .reference')).toBe(beishan.reference);

    // More than 3 working days past the due date: 红牌, after 刷新 (no reload).
    setClock('2026-03-20T01:00:00Z');
    await p.getByRole('button', { name: '刷新' }).click();
    await p.waitForFunction(() => document.querySelector('.as-of')?.textContent?.includes('2026/03/20'));
    expect((await count(p, 'county-verification', 'red').textContent())?.trim()).toBe('1');
    expect((await count(p, 'county-verification', 'overdue').textContent())?.trim()).toBe('0');
    await count(p, 'county-verification', 'red').click();
    await p.waitForFunction(() => document.querySelector('#board-list-title')?.textContent?.includes('红牌'));
    await p.locator('.list .task-row .badge.red').waitFor();
    expect(await text(p, '.list .reference')).toBe(beishan.reference);
    expect(await text(p, '.list .task-row .badge')).toBe('红牌');
    expect(errors).toEqual([]);
    await p.close();
  });

  it('a township supervisor sees their township only, not another township’s counts', async () => {
    const xixi = await openAccepted('clerk.xixi');
    await post(await token('admin.xihu'), '/api/admin/users', {
      username: 'supervisor.xixi',
      displayName: '西溪街道督办 黄蕾',
      regionCode: '330106002',
      department: 'township-civil-affairs',
      roles: ['supervisor'],
      password: 'Initial#Pass2026',
    });
    const { page: p, errors } = await page();
    await logIn(p, service.url, 'supervisor.xixi', 'Initial#Pass2026');
    await p.waitForURL(/\/supervision$/);
    await p.locator('button[data-scope="total"][data-bucket="open"]').waitFor();
    expect(await text(p, '.as-of')).toContain('辖区：西溪街道（演示，审核确认委托街道）及下级');
    // Only the 西溪 case's two tasks; the 北山 case (red at the county's verification) is not counted.
    expect((await text(p, 'button[data-scope="total"][data-bucket="open"]')).replace(/\D/g, '')).toBe('2');
    expect((await text(p, 'button[data-scope="total"][data-bucket="red"]')).replace(/\D/g, '')).toBe('0');
    await p.locator('button[data-scope="total"][data-bucket="open"]').click();
    await p.locator('.list .task-row').first().waitFor();
    const references = await p.locator('.list .reference').allTextContents();
    expect(references.map((r) => r.trim())).toEqual([xixi.reference, xixi.reference]);
    expect(references.join()).not.toContain(beishan.reference);
    await a11y(p, '督办看板（街道）');
    expect(errors).toEqual([]);
    await p.close();
  });

  it('an admin loads a region’s override day, the server’s field message shown first, and sees it in the month grid', async () => {
    const { page: p, errors } = await page();
    await logIn(p, service.url, 'admin.xihu');
    await p.waitForURL(/\/admin\/calendars$/);
    // The national 2026 schedule is loaded: 国庆节 is a holiday, a 调休 Saturday is a working day.
    // The month grids are drawn before the year's days arrive: wait for the marking itself.
    await p.locator('[data-day="2026-10-01"].holiday').waitFor();
    expect(await text(p, 'nav[aria-label="管理子菜单"]')).toMatch(/工作日历\s*用户\s*群众通知\s*流程版本\s*故障处理/);
    await a11y(p, '工作日历（全国）');

    await p.locator('.el-select:has(#cal-region)').click();
    await p.locator('.el-select-dropdown__item:visible', { hasText: '西湖区（演示）（330106）的地区调整' }).click();
    await p.waitForFunction(() => document.querySelector('.status')?.textContent?.includes('没有地区调整'));
    await p.locator('#cal-source').fill('西湖区人民政府关于2026年地方性放假的通知');
    await p.locator('#cal-holidays').fill('2027-09-15 西湖区地方性放假');
    await p.getByRole('button', { name: '保存并加载' }).click();
    const holidaysError = p.locator('.el-form-item:has(#cal-holidays) .el-form-item__error');
    await holidaysError.waitFor();
    expect((await holidaysError.textContent())?.trim()).toBe('第1行（2027-09-15）日期：日期不在2026年内');

    await p.locator('#cal-holidays').fill('2026-09-15 西湖区地方性放假');
    await p.getByRole('button', { name: '保存并加载' }).click();
    await p.locator('[role=status].el-alert--success').waitFor();
    expect(await text(p, '[role=status].el-alert--success')).toContain('已加载2026年西湖区（演示）工作日历：放假1天');
    const cell = p.locator('[data-day="2026-09-15"]');
    await p.waitForFunction(() => document.querySelector('[data-day="2026-09-15"]')?.classList.contains('regional'));
    expect(await cell.getAttribute('class')).toContain('holiday');
    expect(await cell.getAttribute('title')).toBe('西湖区地方性放假（放假，本地区调整）');
    await a11y(p, '工作日历（地区调整）');

    // Another year, not loaded: said in words.
    await p.locator('.el-select:has(#cal-region)').click();
    await p.locator('.el-select-dropdown__item:visible', { hasText: '全国' }).click();
    await p.locator('.el-select:has(#cal-year)').click();
    await p.locator('.el-select-dropdown__item:visible', { hasText: '2028年' }).click();
    await p.waitForFunction(() => document.querySelector('.status')?.textContent?.includes('2028年全国节假日安排尚未加载'));
    expect(errors).toEqual([]);
    await p.close();
  });

  it('an admin creates a user in the browser who then logs in; a reset password ends their session; disabled, their login fails with the zh-CN message; a clerk typing /admin is sent home', async () => {
    const { page: p, errors } = await page();
    await logIn(p, service.url, 'admin.xihu');
    await p.waitForURL(/\/admin\/calendars$/);
    await p.locator('nav[aria-label="管理子菜单"] a', { hasText: '用户' }).click();
    await p.waitForURL(/\/admin\/users$/);
    await p.locator('tr[data-username="clerk.beishan"]').waitFor();
    await a11y(p, '用户');

    await p.getByRole('button', { name: '新建用户' }).click();
    await p.locator('#u-username').fill('clerk.beishan9');
    await p.locator('#u-display').fill('北山街道窗口 刘洋');
    await p.locator('.el-select:has(#u-region)').click();
    await p.locator('.el-select-dropdown__item:visible', { hasText: '北山街道（演示）' }).click();
    await p.locator('.el-select:has(#u-department)').click();
    await p.locator('.el-select-dropdown__item:visible', { hasText: '乡镇（街道）便民服务窗口' }).click();
    await p.locator('[data-role="clerk"]').click();
    await p.locator('#u-password').fill('short');
    await p.getByRole('button', { name: '创建' }).click();
    const passwordError = p.locator('.el-form-item:has(#u-password) .el-form-item__error');
    await passwordError.waitFor();
    expect((await passwordError.textContent())?.trim()).toBe('密码至少10位');
    await a11y(p, '新建用户');

    await p.getByRole('button', { name: '生成' }).click();
    const password = await p.locator('#u-password').inputValue();
    expect(password).toMatch(/^.{14}$/);
    await p.getByRole('button', { name: '创建' }).click();
    const notice = p.locator('.notice');
    await notice.waitFor();
    expect(await notice.textContent()).toContain(`已创建用户 clerk.beishan9（北山街道窗口 刘洋）。初始密码：${password}`);
    await p.locator('tr[data-username="clerk.beishan9"]').waitFor();
    expect(await text(p, 'tr[data-username="clerk.beishan9"]')).toContain('乡镇（街道）便民服务窗口');

    // The same username again: the service's USERNAME_TAKEN beside the field.
    await p.getByRole('button', { name: '新建用户' }).click();
    await p.locator('#u-username').fill('clerk.beishan9');
    await p.locator('#u-display').fill('重复');
    await p.locator('.el-select:has(#u-department)').click();
    await p.locator('.el-select-dropdown__item:visible', { hasText: '乡镇（街道）便民服务窗口' }).click();
    await p.locator('[data-role="clerk"]').click();
    await p.locator('#u-password').fill('Another#Pass2026');
    await p.getByRole('button', { name: '创建' }).click();
    const usernameError = p.locator('.el-form-item:has(#u-username) .el-form-item__error');
    await usernameError.waitFor();
    expect((await usernameError.textContent())?.trim()).toBe('该用户名已被使用');
    await p.getByRole('button', { name: '取消' }).first().click();

    // The new user works at once (another tab: its own session).
    const other = await page();
    await logIn(other.page, service.url, 'clerk.beishan9', password);
    await other.page.waitForURL(/\/window$/);

    // 重置密码: the new one is shown once; the user's open session ends, the new password works.
    await p.locator('tr[data-username="clerk.beishan9"]').getByRole('button', { name: '重置密码 clerk.beishan9' }).click();
    await p.locator('#u-new-password').waitFor();
    await p.locator('.el-dialog:has(#u-new-password)').getByRole('button', { name: '生成' }).click();
    const newPassword = await p.locator('#u-new-password').inputValue();
    expect(newPassword).not.toBe(password);
    await a11y(p, '重置密码');
    await p.getByRole('button', { name: '重置', exact: true }).click();
    await p.waitForFunction(() => document.querySelector('.notice')?.textContent?.includes('已重置'));
    expect(await text(p, '.notice')).toContain(`已重置 clerk.beishan9 的密码，新密码：${newPassword}（仅显示这一次）；其1个登录已失效`);
    await other.page.reload();
    await other.page.waitForURL(/\/login/);
    await logIn(other.page, service.url, 'clerk.beishan9', newPassword);
    await other.page.waitForURL(/\/window$/);

    await p.locator('tr[data-username="clerk.beishan9"]').getByRole('button', { name: '停用 clerk.beishan9' }).click();
    await p.waitForFunction(() => document.querySelector('tr[data-username="clerk.beishan9"]')?.textContent?.includes('已停用'));
    expect(await text(p, '.notice')).toContain('已停用 clerk.beishan9');

    await logIn(other.page, service.url, 'clerk.beishan9', newPassword);
    const refused = other.page.locator('[role=alert]');
    await refused.waitFor();
    expect((await refused.textContent())?.trim()).toBe('账号已停用，请联系管理员');
    expect(other.errors).toEqual([]);
    await other.page.close();

    // A clerk typing /admin (or one of its screens) is led home.
    const clerk = await page();
    await logIn(clerk.page, service.url, 'clerk.beishan');
    await clerk.page.waitForURL(/\/window$/);
    for (const path of ['/admin', '/admin/users', '/supervision']) {
      await clerk.page.goto(`${service.url}${path}`);
      await clerk.page.waitForURL(/\/window$/);
    }
    // A township clerk's menu: the window, the 预审 of online applications and their 待办, never 督办 or 管理.
    expect(await text(clerk.page, 'nav')).toBe('综合窗口网上申请预审待办');
    expect(clerk.errors).toEqual([]);
    await clerk.page.close();
    expect(errors).toEqual([]);
    await p.close();
  });

  it('on a 375-px phone the staff screens fit: the menu sits above the page, the header is the banner, nothing is wider than the phone', async () => {
    const screens: Array<[string, string[]]> = [
      ['supervisor.xihu', ['/supervision', '/supervision/report', '/inbox', `/cases/${beishan.id}`]],
      ['admin.xihu', ['/admin/calendars', '/admin/users', '/admin/notices', '/admin/incidents']],
      ['clerk.beishan', ['/window', '/inbox']],
    ];
    for (const [user, paths] of screens) {
      const { page: p, errors } = await page();
      await p.setViewportSize({ width: 375, height: 740 });
      await logIn(p, service.url, user);
      await p.waitForURL((u) => !u.pathname.startsWith('/login'));
      expect(await p.getByRole('banner').textContent(), user).toContain('退出');
      for (const path of paths) {
        await p.goto(`${service.url}${path}`);
        await p.locator('h1').first().waitFor();
        await p.waitForLoadState('networkidle');
        const layout = await p.evaluate(() => {
          const nav = document.querySelector('nav[aria-label="主菜单"]').getBoundingClientRect();
          const page = document.querySelector('.el-main');
          const main = page.getBoundingClientRect();
          // The page scrolls on its own (overflow: auto): content wider than it is cut off at the right edge.
          return { scroll: Math.max(document.documentElement.scrollWidth, page.scrollWidth), mainTop: main.top, navBottom: nav.bottom, mainWidth: main.width };
        });
        expect(layout.scroll, `${user} ${path}: page width`).toBeLessThanOrEqual(375);
        // The menu above, not beside: the page keeps the phone's whole width.
        expect(layout.mainTop, `${user} ${path}: menu above the page`).toBeGreaterThanOrEqual(layout.navBottom - 1);
        expect(layout.mainWidth, `${user} ${path}: page width`).toBe(375);
      }
      expect(errors).toEqual([]);
      await p.close();
    }
  });
});
