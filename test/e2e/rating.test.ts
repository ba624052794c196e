import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// Page-side globals inside page.evaluate callbacks (the root tsconfig has no DOM library).
declare const document: any;

// Issue 9, 好差评 and 回访: the citizen rates on a phone; the supervisor does 整改 and 回访 on the case page.

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM}`);

describe.skipIf(!hasChromium)('好差评 and 回访 in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  let decided: { id: string; reference: string; trackingCode: string };

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db);
    browser = await launchBrowser();
    // No 抽样回访 here: the supervisor's tasks are the 整改 and its 回访 only.
    await database.db('regions').where({ code: '330106001' }).update({ settings: JSON.stringify({ followUpSampleShare: 0 }) });
    const login = await fetch(`${service.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'clerk.beishan', password: DEMO_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const call = async (path: string, body: unknown) => {
      const res = await fetch(`${service.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.ok, await res.clone().text()).toBe(true);
      return (await res.json()) as any;
    };
    decided = await call('/api/cases', {
      procedureId: 'social-assistance',
      applicant: { name: '张三丰', idNumber: '11010519491231002X', phone: '13800138000' },
      application: { householdSize: 2, monthlyHouseholdIncomeFen: 90000, reason: '因病致贫' },
    });
    await call(`/api/cases/${decided.id}/events`, { type: 'REJECT_APPLICATION', data: { reason: '家庭收入超过当地低保标准' }, expectedVersion: 1 });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  const pickLevel = (p: Page, group: string, label: string) => p.getByRole('radiogroup', { name: group }).getByText(label, { exact: true }).click();

  it('the citizen rates the result 不满意 on a 375 px screen, once', async () => {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await p.setViewportSize({ width: 375, height: 740 });
    await p.goto(`${service.url}/track?ref=${encodeURIComponent(decided.reference)}`);
    await p.locator('#code').fill(decided.trackingCode);
    await p.getByRole('button', { name: '查询' }).click();
    await p.locator('#rating-title').waitFor();
    expect(await seriousViolations(p), 'rating form').toEqual([]);
    // Fits the phone: no sideways scrolling.
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);

    await p.getByRole('button', { name: '提交评价' }).click();
    await p.locator('.rating .error', { hasText: '请选择总体评价' }).waitFor();

    await pickLevel(p, '总体评价', '不满意');
    for (const indicator of ['服务态度', '告知指引', '窗口环境']) await pickLevel(p, indicator, '满意');
    await pickLevel(p, '办理效率', '非常不满意');
    await p.locator('#rating-comment').fill('等了很久才告知不予受理');
    await p.getByRole('button', { name: '提交评价' }).click();
    await p.locator('.rating .done', { hasText: '整改' }).waitFor();
    await p.locator('.rating .given', { hasText: '办理结果：您的评价为“不满意”' }).waitFor();
    // The result is rated: only the window service may still be rated.
    const stages = await p.getByRole('radiogroup', { name: '评价内容' }).textContent();
    expect(stages).toContain('受理窗口服务');
    expect(stages).not.toContain('办理结果');
    expect(await p.locator('.el-timeline').textContent()).toContain('群众评价');
    expect(await seriousViolations(p), 'after rating').toEqual([]);
    expect(errors).toEqual([]);
  });

  it('the supervisor finds the 差评整改 in 待办, records the 整改, then the 回访', async () => {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await logIn(p, service.url, 'supervisor.xihu');
    await p.waitForURL((u) => !u.pathname.startsWith('/login'));
    await p.goto(`${service.url}/inbox`);
    const row = p.locator('tr', { hasText: '差评整改' }).first();
    await row.waitFor();
    expect(await row.textContent()).toContain(decided.reference);
    expect(await seriousViolations(p), 'supervisor inbox').toEqual([]);

    await p.goto(`${service.url}/cases/${decided.id}`);
    await p.locator('[data-action="RECTIFICATION_DONE"]').click();
    await p.locator('form[data-event="RECTIFICATION_DONE"]').waitFor();
    expect(await seriousViolations(p), 'rectification form').toEqual([]);
    await p.locator('#ev-cause').fill('窗口未一次性告知收入核算口径');
    await p.locator('#ev-measures').fill('窗口人员培训，印发收入核算告知单');
    await p.locator('form[data-event="RECTIFICATION_DONE"] button[type=submit]').click();
    await p.locator('.done[role=status]', { hasText: '已提交' }).waitFor();

    await p.locator('[data-action="FOLLOW_UP_DONE"]').click();
    await p.locator('form[data-event="FOLLOW_UP_DONE"]').waitFor();
    await p.locator('.el-switch:has(#ev-reached)').click();
    await p.locator('#ev-note').fill('电话回访，申请人认可整改措施');
    await p.locator('form[data-event="FOLLOW_UP_DONE"] button[type=submit]').click();
    await p.locator('.done[role=status]', { hasText: '回访完成' }).waitFor();
    expect(await p.locator('[data-action]').count()).toBe(0);
    expect(errors).toEqual([]);

    const events = await database.db('case_events').where({ case_id: decided.id }).orderBy('seq').select('type', 'payload');
    expect(events.slice(-3).map((e) => e.type)).toEqual(['CASE_RATED', 'RECTIFICATION_DONE', 'FOLLOW_UP_DONE']);
    expect(events.at(-1)!.payload).toMatchObject({ reached: true, note: '电话回访，申请人认可整改措施' });
  });
});
