import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import type { NoticeChannel } from '../../src/notifications/channels.ts';
import { NoticeDispatcher } from '../../src/notifications/dispatcher.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { applicant, application } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// The admin's 故障处理 screen in Chromium: incidents of several kinds, one retried, one resolved
// with a reason (required).
describe.skipIf(!hasChromium)('故障处理 (admin) in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  const refs: string[] = [];
  let timerId = '';

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db);
    browser = await launchBrowser();
    const login = await service.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: DEMO_PASSWORD } });
    const headers = { authorization: `Bearer ${login.json().token}` };
    const res = await service.app.inject({ method: 'POST', url: '/api/cases', headers, payload: { procedureId: 'social-assistance', applicant, application } });
    expect(res.statusCode, res.body).toBe(201);
    refs.push(res.json().reference);
    // A dead-letter notice and a failed timer of that case.
    const failing: NoticeChannel = { name: 'http-gateway', send: async () => ({ ok: false, retryable: false, error: 'gateway HTTP 400: invalid number' }) };
    const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);
    expect(await new NoticeDispatcher({ db: database.db, cipher, clock: service.clock.now, channel: failing, publicBaseUrl: service.url }).runOnce()).toMatchObject({ dead: 1 });
    const timer = await database.db('timers').where({ case_id: res.json().id, status: 'pending' }).first();
    timerId = String(timer.id);
    await database.db('timers').where({ id: timer.id }).update({ status: 'failed', attempts: 10, last_error: 'statement timeout' });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  it('an admin retries one incident and resolves the other with a reason', async () => {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await logIn(p, service.url, 'admin.xihu');
    await p.waitForURL(/\/admin\/calendars$/);
    await p.goto(`${service.url}/admin/incidents`);
    const rows = p.locator('tr[data-incident]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    expect(await p.locator('.incidents').textContent()).toContain('gateway HTTP 400');
    expect(await seriousViolations(p), '故障处理').toEqual([]);

    await p.locator(`tr[data-incident="timer-${timerId}"]`).getByRole('button', { name: '重试' }).click();
    await p.locator('[role=status]', { hasText: `已重新加入队列：${refs[0]}` }).waitFor();
    await p.waitForFunction(() => (globalThis as any).document.querySelectorAll('tr[data-incident]').length === 1);

    await rows.first().getByRole('button', { name: '处理' }).click();
    await p.getByRole('button', { name: '确认处理' }).click();
    await p.locator('.field-error', { hasText: '请说明处理的原因' }).waitFor();
    await p.locator('.resolve input').fill('已电话告知申请人');
    await p.getByRole('button', { name: '确认处理' }).click();
    await p.locator('[role=status]', { hasText: '已处理' }).waitFor();
    await p.locator('.empty', { hasText: '没有待处理的故障' }).waitFor();

    expect((await database.db('timers').where({ id: timerId }).first()).status).toBe('pending');
    expect((await database.db('notices').first()).status).toBe('discarded');
    const types = (await database.db('case_events').orderBy('seq').select('type')).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['INCIDENT_RETRIED', 'INCIDENT_RESOLVED']));
    expect(errors).toEqual([]);
    await p.close();
  });
});
