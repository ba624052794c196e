import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DevSinkChannel } from '../../src/notifications/channels.ts';
import { NoticeDispatcher } from '../../src/notifications/dispatcher.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// 网上申请 in Chromium: a citizen applies on a phone-sized screen, types the SMS code (read from
// the dev sink through the admin API, as the phone would show it), and the township window's
// clerk accepts the application in 预审 and gets the 受理回执 with reference and tracking code.
describe.skipIf(!hasChromium)('网上申请 in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);

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

  /** Delivers pending notices to the dev sink and returns the newest text, as the admin reads it. */
  async function latestSms(): Promise<string> {
    await new NoticeDispatcher({ db: database.db, cipher, clock: service.clock.now, channel: new DevSinkChannel({ db: database.db, cipher, clock: service.clock.now }), publicBaseUrl: service.url }).runOnce();
    const login = await service.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin.xihu', password: DEMO_PASSWORD } });
    const res = await service.app.inject({ method: 'GET', url: '/api/admin/notices/sink-messages', headers: { authorization: `Bearer ${login.json().token}` } });
    return res.json().items[0].text as string;
  }

  it('a citizen applies at 375 px and confirms the phone; the clerk accepts it in 预审 and prints the receipt', async () => {
    const p = await browser.context.newPage();
    await p.setViewportSize({ width: 375, height: 812 });
    const errors = watchErrors(p);
    await p.goto(`${service.url}/apply`);
    await p.locator('.el-select:has(#procedure)').click();
    await p.locator('.el-select-dropdown__item', { hasText: '最低生活保障' }).click();
    await p.locator('.el-select:has(#region)').click();
    await p.locator('.el-select-dropdown__item:visible', { hasText: '北山街道' }).click();
    await p.locator('#f-applicant-name').fill('陈网申');
    await p.locator('#f-applicant-idNumber').fill('11010519491231002X');
    await p.locator('#f-applicant-phone').fill('13800138000');
    await p.locator('#f-application-householdSize').fill('2');
    await p.locator('#f-application-monthlyHouseholdIncomeFen').fill('800');
    await p.locator('#f-application-reason').fill('因病致贫，家庭收入低于当地低保标准');
    // The window's "已收取的申请材料" is not asked of the citizen; declared materials are.
    expect(await p.locator('.materials-list').count()).toBe(0);
    await p.locator('[data-material="application-form"]').click();
    await p.locator('[data-material="id-hukou"]').click();
    await p.getByRole('spinbutton', { name: '居民身份证、户口簿份数' }).fill('2');
    expect(await seriousViolations(p), 'apply form').toEqual([]);
    // Nothing on the page is wider than the phone.
    expect(await p.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await p.getByRole('button', { name: '下一步：验证手机' }).click();

    await p.getByRole('heading', { name: '验证手机号码' }).waitFor();
    await p.getByRole('button', { name: '获取验证码' }).click();
    await p.locator('[role=status]', { hasText: '验证码已发送至 138****8000' }).waitFor();
    const code = /验证码为(\d{6})/.exec(await latestSms())![1];
    await p.locator('#code').fill(code === '000000' ? '111111' : '000000');
    await p.getByRole('button', { name: '验证并提交' }).click();
    await p.locator('[role=alert]', { hasText: '验证码错误，还可尝试4次' }).waitFor();
    await p.locator('#code').fill(code);
    await p.getByRole('button', { name: '验证并提交' }).click();
    await p.getByRole('heading', { name: '已提交，待窗口预审' }).waitFor();
    expect(await p.locator('.done').textContent()).toContain('北山街道（演示）便民服务窗口');
    expect(await seriousViolations(p), 'submitted').toEqual([]);
    expect(errors).toEqual([]);

    // The clerk of 北山街道.
    const c = await browser.context.newPage();
    const clerkErrors = watchErrors(c);
    await logIn(c, service.url, 'clerk.beishan');
    await c.waitForURL(/\/window$/);
    await c.getByRole('link', { name: '网上申请预审' }).click();
    await c.waitForURL(/\/window\/prescreen$/);
    const card = c.locator('article[data-application]');
    await card.first().waitFor();
    expect(await card.count()).toBe(1);
    const cardText = (await card.textContent()) ?? '';
    expect(cardText).toContain('陈网申');
    expect(cardText).toContain('110***********002X');
    expect(cardText).toContain('家庭月收入');
    expect(cardText).toContain('800.00元');
    expect(cardText).toContain('申报2份');
    expect(await seriousViolations(c), '预审').toEqual([]);
    await c.getByRole('button', { name: '预审通过，受理' }).click();
    await c.waitForURL(/\/window\/receipt\//);
    const reference = (await c.locator('.receipt .reference').textContent())!.trim();
    const trackingCode = (await c.locator('.receipt .code').textContent())!.trim();
    expect(reference).toMatch(/^DB-330106001-\d{6}-\d{4}-\d$/);
    expect(trackingCode).toMatch(/^[A-Z0-9]{8}$/);
    // Received what was declared; the rest of the required ones are listed missing.
    expect(await c.locator('.receipt').textContent()).toContain('家庭经济状况核对授权书');
    expect(clerkErrors).toEqual([]);

    // The citizen's SMS carries the same reference and code.
    expect(await latestSms()).toContain(`受理编号${reference}，查询码${trackingCode}`);

    // A second application, returned with a 一次性告知.
    const started = await service.app.inject({
      method: 'POST',
      url: '/api/public/applications',
      payload: { procedureId: 'social-assistance', regionCode: '330106001', applicant: { name: '周退回', idNumber: '11010519491231002X', phone: '13900139000' }, application: { householdSize: 1, monthlyHouseholdIncomeFen: 50000, reason: '独居老人，无固定收入' }, materials: [{ code: 'application-form', count: 1 }] },
    });
    const id = started.json().id as string;
    await service.app.inject({ method: 'POST', url: `/api/public/applications/${id}/phone-code` });
    const sms = /验证码为(\d{6})/.exec(await latestSms())![1];
    expect((await service.app.inject({ method: 'POST', url: `/api/public/applications/${id}/confirm`, payload: { code: sms } })).statusCode).toBe(200);
    await c.goto(`${service.url}/window/prescreen`);
    await c.locator(`article[data-application="${id}"]`).waitFor();
    await c.locator(`article[data-application="${id}"]`).getByRole('button', { name: '退回（一次性告知）' }).click();
    const dialog = c.locator('.el-dialog');
    await dialog.waitFor();
    // The required materials not declared are ticked already.
    expect(await dialog.locator('[data-missing="id-hukou"] input').isChecked()).toBe(true);
    expect(await dialog.locator('[data-missing="application-form"] input').isChecked()).toBe(false);
    await dialog.locator('#return-note').fill('请带齐材料原件到窗口');
    expect(await seriousViolations(c), '退回 dialog').toEqual([]);
    await dialog.getByRole('button', { name: '确认退回' }).click();
    await c.locator('.empty', { hasText: '暂无待预审的网上申请' }).waitFor();
    const text = await latestSms();
    expect(text).toContain('您的低保网上申请未通过预审，需补齐：居民身份证、户口簿、家庭收入和财产状况申报、家庭经济状况核对授权书');
    expect(text).toContain('请带齐材料原件到窗口');
    expect(clerkErrors).toEqual([]);
  });
});
