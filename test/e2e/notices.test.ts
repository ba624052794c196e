import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DevSinkChannel, type NoticeChannel } from '../../src/notifications/channels.ts';
import { NoticeDispatcher } from '../../src/notifications/dispatcher.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { applicant, application } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// The admin's 群众通知 screen in Chromium: dead letters retried and discarded with a reason, and
// the development sink's messages as the citizen would read them.
describe.skipIf(!hasChromium)('群众通知 (admin) in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  const refs: string[] = [];
  const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);
  const dispatch = (channel: NoticeChannel) =>
    new NoticeDispatcher({ db: database.db, cipher, clock: service.clock.now, channel, publicBaseUrl: service.url }).runOnce();

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db);
    browser = await launchBrowser();
    const login = await service.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: DEMO_PASSWORD } });
    const headers = { authorization: `Bearer ${login.json().token}` };
    const open = async () => {
      const res = await service.app.inject({ method: 'POST', url: '/api/cases', headers, payload: { procedureId: 'social-assistance', applicant, application } });
      expect(res.statusCode, res.body).toBe(201);
      refs.push(res.json().reference);
    };
    await open();
    await open();
    const failing: NoticeChannel = { name: 'http-gateway', send: async () => ({ ok: false, retryable: false, error: 'gateway HTTP 400: invalid number' }) };
    expect(await dispatch(failing)).toMatchObject({ dead: 2 });
    await open();
    expect(await dispatch(new DevSinkChannel({ db: database.db, cipher, clock: service.clock.now }))).toMatchObject({ sent: 1 });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  it('an admin retries one dead letter, discards the other with a reason, and reads the sink', async () => {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await logIn(p, service.url, 'admin.xihu');
    await p.waitForURL(/\/admin\/calendars$/);
    await p.goto(`${service.url}/admin/notices`);
    const rows = p.locator('tr[data-notice]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    expect(await p.locator('#tab-queue .badge').textContent()).toBe('2');
    expect(await rows.first().textContent()).toContain('投递失败');
    expect(await rows.first().textContent()).toContain('gateway HTTP 400');
    expect(await seriousViolations(p), '群众通知 queue').toEqual([]);

    // Retry the newest (the second case's).
    await rows.first().getByRole('button', { name: '重新发送' }).click();
    await p.locator('[role=status]', { hasText: `已重新加入发送队列：${refs[1]}` }).waitFor();
    await p.waitForFunction(() => (globalThis as any).document.querySelectorAll('tr[data-notice]').length === 1);

    // Discard the other: a reason is required.
    await rows.first().getByRole('button', { name: '放弃' }).click();
    await p.getByRole('button', { name: '确认放弃' }).click();
    await p.locator('.field-error', { hasText: '请说明放弃的原因' }).waitFor();
    expect(await seriousViolations(p), 'discard form').toEqual([]);
    await p.locator('.discard input').fill('申请人已到窗口领取回执');
    await p.getByRole('button', { name: '确认放弃' }).click();
    await p.locator('[role=status]', { hasText: `已放弃：${refs[0]}` }).waitFor();
    await p.locator('.empty', { hasText: '没有符合条件的通知' }).waitFor();

    const statuses = await database.db('notices').select('status').orderBy('id');
    expect(statuses.map((s) => s.status)).toEqual(['discarded', 'pending', 'sent']);

    await p.getByRole('tab', { name: '开发沙箱短信' }).click();
    const message = p.locator('li[data-sink]').first();
    await message.waitFor();
    expect(await message.textContent()).toContain('发往 138****8000');
    expect(await message.textContent()).toContain(`【一窗通办】您的低保申请已登记，受理编号${refs[2]}`);
    expect(await p.content()).not.toContain(applicant.phone);
    expect(await seriousViolations(p), '开发沙箱短信').toEqual([]);
    expect(errors).toEqual([]);
  });
});
