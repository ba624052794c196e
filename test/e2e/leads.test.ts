import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// 主动发现 in the workbench: a grid worker registers a lead on /leads/new (phone-sized screen),
// the township converts it on /leads, the urgent 临时救助 case page opens, and the supervisor's
// board counts it with the list behind the number.

// Page-side global inside waitForFunction (the root tsconfig has no DOM library).
declare const document: any;

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM}`);

describe.skipIf(!hasChromium)('主动发现 leads in Chromium', () => {
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

  async function pageAs(username: string, viewport?: { width: number; height: number }): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.context.newPage();
    if (viewport) await page.setViewportSize(viewport);
    const errors = watchErrors(page);
    await logIn(page, service.url, username);
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    return { page, errors };
  }
  const menu = async (page: Page) => (await page.locator('nav[aria-label="主菜单"] a').allTextContents()).map((s) => s.trim());

  it('a grid worker registers an urgent lead; the township converts it and the urgent case page opens', async () => {
    const grid = await pageAs('grid.beishan', { width: 414, height: 896 });
    await grid.page.waitForURL(/\/leads$/);
    expect(await menu(grid.page)).toEqual(['线索']);
    await grid.page.getByRole('button', { name: '登记线索' }).click();
    await grid.page.waitForURL(/\/leads\/new$/);
    expect(await grid.page.title()).toBe('登记线索 - 一窗通办');

    // Nothing filled in: the service's messages beside the fields.
    await grid.page.getByRole('button', { name: '提交线索' }).click();
    await grid.page.locator('.el-form-item__error', { hasText: '请填写户主姓名' }).waitFor();
    expect(await seriousViolations(grid.page), 'register form with errors').toEqual([]);

    await grid.page.locator('.el-radio-button', { hasText: '紧急' }).click();
    await grid.page.locator('.el-radio-button.is-active', { hasText: '紧急' }).waitFor();
    await grid.page.getByText('1个工作日内审核，可按急难型先行救助').waitFor();
    await grid.page.locator('#lead-name').fill('李四海');
    await grid.page.locator('#lead-id').fill('11010519491231002X');
    await grid.page.locator('#lead-phone').fill('13900139000');
    await grid.page.locator('#lead-address').fill('北山街道曙光路8号');
    await grid.page.locator('#lead-situation').fill('户主因车祸住院，配偶无业，两名子女在读');
    await grid.page.getByRole('button', { name: '提交线索' }).click();
    await grid.page.locator('[role=status]', { hasText: '线索已登记' }).waitFor();
    expect(await grid.page.locator('[role=status]').textContent()).toContain('紧急线索');
    expect(await seriousViolations(grid.page), 'registered').toEqual([]);
    await grid.page.getByRole('button', { name: '查看我登记的线索' }).click();
    await grid.page.locator('.card', { hasText: '李*海' }).waitFor();
    expect(await grid.page.locator('.card').first().textContent()).toContain('待审核');
    expect(grid.errors).toEqual([]);

    const town = await pageAs('township.beishan');
    expect(await menu(town.page)).toEqual(['待办', '线索']);
    await town.page.goto(`${service.url}/leads`);
    const card = town.page.locator('.card', { hasText: '李*海' });
    await card.waitFor();
    // Masked on the screen too.
    expect(await card.textContent()).not.toContain('11010519491231002X');
    expect(await seriousViolations(town.page), 'township list').toEqual([]);
    await card.getByRole('button', { name: '转为临时救助申请' }).click();
    await town.page.locator('.el-dialog', { hasText: '急难型先行救助直接受理' }).waitFor();
    await town.page.locator('#convert-amount').fill('3000');
    // axe reads colours mid-fade as too light: wait for the dialog's opening transition to end.
    await town.page.waitForFunction(() => document.getAnimations().every((a: any) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity));
    await town.page.waitForFunction(() => !document.querySelector('.dialog-fade-enter-active'));
    expect(await seriousViolations(town.page), 'convert dialog').toEqual([]);
    await town.page.getByRole('button', { name: '确认转办' }).click();

    await town.page.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
    await town.page.getByText('先行救助发放').first().waitFor();
    const caseId = town.page.url().split('/').at(-1)!;
    const lead = await database.db('leads').where({ case_id: caseId }).first();
    expect(lead).toMatchObject({ status: 'converted', head_name: '李四海', urgency: 'urgent' });
    const row = await database.db('cases').where({ id: caseId }).first();
    expect(row.procedure_id).toBe('temporary-assistance');
    expect(await seriousViolations(town.page), 'case page').toEqual([]);
    expect(town.errors).toEqual([]);

    // The supervisor's board counts it and lists it behind the number.
    const sup = await pageAs('supervisor.xihu');
    await sup.page.waitForURL(/\/supervision$/);
    const converted = sup.page.getByRole('link', { name: '已转救助申请线索 1 条' });
    await converted.waitFor();
    expect(await seriousViolations(sup.page), 'board with leads').toEqual([]);
    await converted.click();
    await sup.page.waitForURL(/\/leads\?status=converted$/);
    const done = sup.page.locator('.card', { hasText: '李*海' });
    await done.waitFor();
    expect(await done.textContent()).toContain('已转救助申请');
    expect(await done.getByRole('button').count()).toBe(0);
    expect(await seriousViolations(sup.page), 'supervisor leads list').toEqual([]);
    expect(sup.errors).toEqual([]);
  });
});
