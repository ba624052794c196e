import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// Page-side globals inside page.evaluate callbacks (the root tsconfig has no DOM library).
declare const document: any;
declare const getComputedStyle: (e: unknown) => { opacity: string };

// Issue 8, screen 3 in a real browser: 待办 and the case page. A 低保 case goes from the clerk's
// form through 补正, acceptance, both verification branches, 初审, 公示, county confirmation and
// payment, every step by the right demo user in the browser; the citizen tracks it on a phone; an
// uninvolved department sees nothing; the funeral one-stop case runs one parallel branch.

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM}`);

const DAY = 24 * 3600 * 1000;

describe.skipIf(!hasChromium)('待办 and the case page in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  // One logged-in tab per demo user, kept for the whole file (sessionStorage is per tab).
  const tabs = new Map<string, { page: Page; errors: string[] }>();
  const db = { caseId: '', reference: '', code: '' };

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db);
    browser = await launchBrowser();
  }, 240_000);
  const closedErrors: string[] = [];
  async function forgetSessions() {
    for (const [name, t] of tabs) {
      closedErrors.push(...t.errors.map((e) => `${name}: ${e}`));
      await t.page.close();
    }
    tabs.clear();
  }
  afterAll(async () => {
    for (const [name, t] of tabs) expect(t.errors, `console errors of ${name}`).toEqual([]);
    expect(closedErrors).toEqual([]);
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  async function as(username: string): Promise<Page> {
    const known = tabs.get(username);
    if (known) return known.page;
    const page = await browser.context.newPage();
    tabs.set(username, { page, errors: watchErrors(page) });
    await logIn(page, service.url, username);
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    return page;
  }

  const text = async (p: Page, selector: string) => ((await p.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();

  async function openCase(p: Page, caseId: string) {
    await p.goto(`${service.url}/cases/${caseId}`);
    await p.locator('span[data-reference]').waitFor();
  }

  /** Clicks an action of the case page and waits for its generated form. */
  async function startAction(p: Page, type: string) {
    await p.locator(`[data-action="${type}"]`).click();
    await p.locator(`form[data-event="${type}"]`).waitFor();
  }

  /** Submits the open action form; the page reloads the case and says what was done. */
  async function submitAction(p: Page, type: string) {
    await p.locator(`form[data-event="${type}"] button[type=submit]`).click();
    await p.locator('.done[role=status]').waitFor();
    expect(await text(p, '.done')).toContain('已提交');
  }

  const toggle = (p: Page, key: string) => p.locator(`.el-switch:has(#ev-${key})`).click();

  async function track(stagePoint: string): Promise<string> {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await p.setViewportSize({ width: 375, height: 740 });
    await p.goto(`${service.url}/track?ref=${encodeURIComponent(db.reference)}`);
    await p.locator('#code').fill(db.code);
    await p.getByRole('button', { name: '查询' }).click();
    await p.locator('.result').waitFor();
    const shown = await text(p, '.result');
    expect(await p.evaluate(() => document.documentElement.scrollWidth), stagePoint).toBeLessThanOrEqual(375);
    expect(errors, stagePoint).toEqual([]);
    await p.close();
    return shown;
  }

  it('a 低保 case from the clerk’s form through 补正, acceptance, both verifications, 初审, 公示, confirmation and payment, each step in the browser; the citizen tracks it at three points', async () => {
    // The clerk opens the case with one required material missing.
    const clerk = await as('clerk.beishan');
    expect((await clerk.locator('nav[aria-label="主菜单"] a').allTextContents()).map((s) => s.trim())).toEqual(['综合窗口', '网上申请预审', '待办']);
    await clerk.goto(`${service.url}/window`);
    await clerk.locator('#procedure').click();
    await clerk.locator('.el-select-dropdown__item', { hasText: '最低生活保障' }).click();
    await clerk.locator('#f-applicant-name').fill('张三丰');
    await clerk.locator('#f-applicant-idNumber').fill('11010519491231002X');
    await clerk.locator('#f-applicant-phone').fill('13800138000');
    await clerk.locator('#f-application-householdSize').fill('3');
    await clerk.locator('#f-application-monthlyHouseholdIncomeFen').fill('1200');
    await clerk.locator('#f-application-reason').fill('因病致贫，家庭收入低于当地低保标准');
    for (const code of ['application-form', 'id-hukou', 'income-declaration']) await clerk.locator(`[data-material="${code}"]`).click();
    await clerk.getByRole('button', { name: '提交受理' }).click();
    await clerk.waitForURL(/\/window\/receipt\//);
    await clerk.locator('.receipt .code').waitFor();
    db.reference = await text(clerk, '.receipt .reference');
    db.code = await text(clerk, '.receipt .code');
    db.caseId = new URL(clerk.url()).pathname.split('/').at(-1)!;

    // 待办: the window's 受理审查 task, claimed and released.
    await clerk.goto(`${service.url}/inbox`);
    const row = clerk.locator(`tr[data-reference="${db.reference}"]`);
    await row.waitFor();
    expect(await text(clerk, `tr[data-reference="${db.reference}"]`)).toContain('受理审查');
    expect(await text(clerk, `tr[data-reference="${db.reference}"]`)).toContain('最低生活保障（低保）申请');
    expect(await text(clerk, `tr[data-reference="${db.reference}"]`)).toMatch(/剩余\d+个工作日/);
    expect(await seriousViolations(clerk), '待办').toEqual([]);
    await row.getByRole('button', { name: '认领' }).click();
    await row.getByRole('button', { name: '释放' }).waitFor();
    expect(await text(clerk, `tr[data-reference="${db.reference}"] .assignee`)).toBe('北山街道窗口 王敏（我）');
    await row.getByRole('button', { name: '释放' }).click();
    await row.getByRole('button', { name: '认领' }).waitFor();
    expect(await text(clerk, `tr[data-reference="${db.reference}"] .assignee`)).toBe('未认领');

    // The case page: masked applicant until 显示完整信息; the diagram marks the current state.
    await row.locator('a.ref').click();
    await clerk.waitForURL(new RegExp(`/cases/${db.caseId}$`));
    await clerk.locator('span[data-reference]').waitFor();
    expect(await text(clerk, '[data-applicant=idNumber]')).not.toBe('11010519491231002X');
    await clerk.getByRole('button', { name: '显示完整信息' }).click();
    await clerk.locator('text=本次查看已留痕').waitFor();
    expect(await text(clerk, '[data-applicant=idNumber]')).toBe('11010519491231002X');
    expect(await text(clerk, '[data-state="sa.acceptance"]')).toContain('当前');
    expect(await clerk.locator('[data-state="sa.acceptance"]').getAttribute('aria-current')).toBe('step');
    expect(await text(clerk, '[data-material-state="verification-authorization"]')).toContain('未收取（必交）');
    expect(await text(clerk, '#h-deadlines + p')).toMatch(/\d{4}年\d{1,2}月\d{1,2}日前/);
    expect(await seriousViolations(clerk), 'case page').toEqual([]);

    // 一次性告知补正: nothing ticked → the server's message beside the list; then the notice.
    await startAction(clerk, 'REQUEST_SUPPLEMENT');
    await clerk.locator('form[data-event="REQUEST_SUPPLEMENT"] button[type=submit]').click();
    const listError = clerk.locator('form[data-event="REQUEST_SUPPLEMENT"] .el-form-item__error');
    await listError.waitFor();
    expect((await listError.textContent())?.trim()).toBe('请列出全部缺少的材料');
    // The message fades in (Element's transition); axe measures contrast once it has.
    await clerk.waitForFunction(() => [...document.querySelectorAll('.el-form-item__error')].every((e: any) => !/enter|leave/.test(e.className) && getComputedStyle(e).opacity === '1'));
    expect(await seriousViolations(clerk), 'action form with a field error').toEqual([]);
    await clerk.locator('[data-option="verification-authorization"]').click();
    await clerk.locator('form[data-event="REQUEST_SUPPLEMENT"] button[type=submit]').click();
    await clerk.waitForURL(new RegExp(`/cases/${db.caseId}/notice/supplement$`));
    await clerk.locator('.document .reference').waitFor();
    expect(await text(clerk, '.document .reference')).toBe(db.reference);
    expect(await text(clerk, '.document')).toContain('家庭经济状况核对授权书');

    // Citizen, point 1: what is missing.
    expect(await track('after 补正 request')).toContain('需要补正的材料家庭经济状况核对授权书');

    // 补正材料已收齐, then 受理.
    await openCase(clerk, db.caseId);
    expect(await text(clerk, '[data-material-state="verification-authorization"]')).toContain('待补正');
    await startAction(clerk, 'SUPPLEMENT_RECEIVED');
    await submitAction(clerk, 'SUPPLEMENT_RECEIVED');
    await startAction(clerk, 'ACCEPT');
    await clerk.locator('#ev-note').fill('材料齐全，予以受理');
    await submitAction(clerk, 'ACCEPT');
    expect(await text(clerk, '[data-stage]')).toContain('家庭经济状况核对中');
    // The diagram: both investigation branches live, each naming its department.
    const regions = await clerk.locator('.region .holder').allTextContents();
    expect(regions.map((s) => s.trim())).toEqual(expect.arrayContaining(['办理部门：县级居民家庭经济状况核对机构', '办理部门：乡镇（街道）社会救助经办机构']));
    expect(await text(clerk, '[data-state="sa.informationCheck"]')).toContain('当前');
    expect(await text(clerk, '[data-state="sa.homeVisit"]')).toContain('当前');
    expect(await text(clerk, '.timeline')).toContain('材料齐全，予以受理');
    // The material came in on 补正: the case page says so, not 未收取 (the application keeps what the window first received).
    expect(await text(clerk, '[data-material-state="verification-authorization"]')).toContain('已收取（补正）');

    // Citizen, point 2: the departments handling it.
    const midway = await track('mid-way');
    expect(midway).toContain('正在办理的部门');
    expect(midway).toContain('家庭经济状况核对');

    // An uninvolved department (公安户政) sees neither the task nor the case.
    const police = await as('police.xihu');
    await police.goto(`${service.url}/inbox`);
    await police.locator('[data-total]').waitFor();
    await police.waitForFunction(() => document.querySelector('.total')?.textContent?.includes('加载中') === false);
    expect(await police.locator(`tr[data-reference="${db.reference}"]`).count()).toBe(0);
    await police.goto(`${service.url}/cases/${db.caseId}`);
    await police.locator('h1', { hasText: '页面不存在' }).waitFor();
    expect(await police.locator('[data-reference]').count()).toBe(0);

    // Branch 1: 信息核对 by the county verification centre, from its 待办.
    const verify = await as('verify.xihu');
    await verify.goto(`${service.url}/inbox`);
    await verify.locator(`tr[data-reference="${db.reference}"]`).click();
    await verify.locator('span[data-reference]').waitFor();
    await startAction(verify, 'VERIFICATION_COMPLETED');
    await verify.locator('#ev-verifiedMonthlyIncomeFen').fill('1000');
    await toggle(verify, 'propertyWithinLimit');
    await submitAction(verify, 'VERIFICATION_COMPLETED');
    expect(await text(verify, '.timeline')).toContain('1000.00元');

    // Branch 2: 入户调查 by the township; two visitors, one per line.
    const township = await as('township.beishan');
    await openCase(township, db.caseId);
    await startAction(township, 'HOME_VISIT_COMPLETED');
    await township.locator('#ev-visitors').fill('陈刚');
    await township.locator('#ev-findings').fill('家庭情况属实');
    await township.locator('form[data-event="HOME_VISIT_COMPLETED"] button[type=submit]').click();
    const visitorsError = township.locator('.el-form-item:has(#ev-visitors) .el-form-item__error');
    await visitorsError.waitFor();
    expect((await visitorsError.textContent())?.trim()).toBe('入户调查须两名以上工作人员');
    await township.locator('#ev-visitors').fill('陈刚\n刘洋');
    await submitAction(township, 'HOME_VISIT_COMPLETED');

    // 初审 (the branches joined), then 公示 for its seven days.
    expect(await text(township, '[data-stage]')).toContain('初审');
    await startAction(township, 'PRELIMINARY_APPROVE');
    await township.locator('#ev-proposedMonthlyAmountFen').fill('980');
    await submitAction(township, 'PRELIMINARY_APPROVE');
    expect(await text(township, '[data-stage]')).toContain('公示中');
    // The notice period passes: the clock moves on and the deadline timers run (no sleeping).
    service.clock.advance(8 * DAY);
    const engine = createEngine({ clock: service.clock.now, cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
    const worker = new TimerWorker({ db: database.db, engine });
    for (let i = 0; i < 10 && (await worker.runOnce()).claimed > 0; i++);
    // Eight days on, the tabs' 24-hour sessions have ended: everyone logs in again.
    await forgetSessions();
    const township2 = await as('township.beishan');
    await openCase(township2, db.caseId);
    await startAction(township2, 'PUBLIC_NOTICE_ENDED');
    await submitAction(township2, 'PUBLIC_NOTICE_ENDED');

    // County confirmation: 退回 demands a reason (required in its schema), then 审核确认通过.
    const county = await as('county.xihu');
    await county.goto(`${service.url}/inbox`);
    await county.locator(`tr[data-reference="${db.reference}"]`).click();
    await county.locator('span[data-reference]').waitFor();
    await startAction(county, 'RETURN_FOR_REINVESTIGATION');
    const reasonItem = county.locator('.el-form-item:has(#ev-reason)');
    expect(await reasonItem.getAttribute('class')).toContain('is-required');
    expect(await text(county, '.el-form-item:has(#ev-reason) label')).toBe('退回理由');
    await county.locator('form[data-event="RETURN_FOR_REINVESTIGATION"] button', { hasText: '取消' }).click();
    await startAction(county, 'APPROVE');
    await county.locator('#ev-monthlyAmountFen').fill('980');
    await county.locator('#ev-startMonth').fill('2026-03');
    await submitAction(county, 'APPROVE');

    // Payment of the first month.
    await startAction(county, 'PAY_MONTH');
    await county.locator('#ev-period').fill('2026-03');
    await submitAction(county, 'PAY_MONTH');
    expect(await text(county, '.case-page')).toContain('2026-03：980.00元');
    expect(await seriousViolations(county), 'case page after payment').toEqual([]);

    // Citizen, point 3: the decision.
    const decided = await track('after decision');
    expect(decided).toContain('办理结果');
    expect(decided).toContain('准予批准，每月980.00元，自2026-03起发放');
  }, 120_000);

  it('a stale page gets "案件已被他人更新，请刷新" and reloads', async () => {
    const county = await as('county.xihu');
    await openCase(county, db.caseId);
    await startAction(county, 'PAY_MONTH');
    // Someone else pays April meanwhile.
    const login = await fetch(`${service.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'county.xihu', password: 'OneWindow@2026' }) });
    const { token } = (await login.json()) as { token: string };
    const view = (await (await fetch(`${service.url}/api/cases/${db.caseId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { openTasks: Array<{ id: string }> };
    const paid = await fetch(`${service.url}/api/tasks/${view.openTasks[0].id}/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'PAY_MONTH', data: { period: '2026-04' } }),
    });
    expect(paid.status).toBe(200);
    await county.locator('#ev-period').fill('2026-05');
    await county.locator('form[data-event="PAY_MONTH"] button[type=submit]').click();
    const alert = county.locator('.action-form [role=alert]');
    await alert.waitFor();
    expect(await text(county, '.action-form [role=alert]')).toContain('案件已被他人更新，请刷新');
    await county.locator('.action-form [role=alert] button', { hasText: '刷新' }).click();
    await county.locator('.action-form').waitFor({ state: 'detached' });
    // The form closes before the reloaded case arrives: wait for the other user's payment to show.
    await county.locator('.case-page', { hasText: '2026-04：980.00元' }).waitFor({ timeout: 10_000 });
    expect(await text(county, '.case-page')).toContain('2026-04：980.00元');
  });

  it('the funeral one-stop case: opened by the clerk, its 待办 filtered by procedure and overdue with counts, accepted, and one parallel branch completed by the funeral home', async () => {
    const clerk = await as('clerk.beishan');
    await clerk.goto(`${service.url}/window`);
    await clerk.locator('#procedure').click();
    await clerk.locator('.el-select-dropdown__item', { hasText: '身后一件事' }).click();
    await clerk.locator('#f-applicant-name').fill('李小四');
    await clerk.locator('#f-applicant-idNumber').fill('11010519491231002X');
    await clerk.locator('#f-applicant-phone').fill('13800138001');
    await clerk.locator('#f-application-deceased-name').fill('李四');
    await clerk.locator('#f-application-deceased-idNumber').fill('110101194001010012');
    await clerk.locator('#f-application-deceased-dateOfDeath').fill('2026-03-08');
    await clerk.locator('#f-application-relationship').fill('子女');
    for (const code of ['death-certificate', 'applicant-id', 'relationship-proof', 'household-register']) await clerk.locator(`[data-material="${code}"]`).click();
    await clerk.getByRole('button', { name: '提交受理' }).click();
    await clerk.waitForURL(/\/window\/receipt\//);
    await clerk.locator('.receipt .reference').waitFor();
    const reference = await text(clerk, '.receipt .reference');
    const caseId = new URL(clerk.url()).pathname.split('/').at(-1)!;

    // 待办 filters: the server counts per value and the list follows the filter.
    await clerk.goto(`${service.url}/inbox`);
    await clerk.locator(`tr[data-reference="${reference}"]`).waitFor();
    const procedureFilter = clerk.locator('select[data-filter=procedure]');
    const funeralOption = await procedureFilter.locator('option[value=funeral]').textContent();
    expect(funeralOption).toBe('身后一件事（逝者相关事项联办）（1）');
    expect(await procedureFilter.locator('option[value=social-assistance]').textContent()).toBe('最低生活保障（低保）申请（0）');
    await procedureFilter.selectOption('social-assistance');
    await clerk.locator('td.empty').waitFor();
    expect(await text(clerk, '[data-total]')).toBe('0');
    await procedureFilter.selectOption('funeral');
    await clerk.locator(`tr[data-reference="${reference}"]`).waitFor();
    expect(await text(clerk, '[data-total]')).toBe('1');
    await clerk.locator('input[data-filter=overdue]').check();
    await clerk.locator('td.empty').waitFor();
    expect(await text(clerk, '[data-total]')).toBe('0');
    expect(await text(clerk, 'label:has(input[data-filter=overdue])')).toBe('只看已超期（0）');
    expect(await seriousViolations(clerk), '待办, filtered').toEqual([]);
    await clerk.locator('input[data-filter=overdue]').uncheck();

    // Pages by cursor: a second case opened meanwhile, one row a page.
    const token = await clerk.evaluate(() => (globalThis as any).sessionStorage.getItem('onewindow.token'));
    const second = await fetch(`${service.url}/api/cases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ procedureId: 'social-assistance', applicant: { name: '王五', idNumber: '11010519491231002X', phone: '13800138002' }, application: { householdSize: 1, monthlyHouseholdIncomeFen: 50000, reason: '因病致贫' } }),
    });
    const secondCase = (await second.json()) as { id: string; reference: string };
    const secondRef = secondCase.reference;
    await clerk.goto(`${service.url}/inbox?pageSize=1`);
    await clerk.locator('tbody tr[data-reference]').waitFor();
    expect(await text(clerk, '[data-total]')).toBe('2');
    const firstRow = await clerk.locator('tbody tr[data-reference]').getAttribute('data-reference');
    await clerk.getByRole('button', { name: '下一页' }).click();
    await clerk.locator('text=第 2 页').waitFor();
    await clerk.locator(`tbody tr[data-reference]:not([data-reference="${firstRow}"])`).waitFor();
    const secondRow = await clerk.locator('tbody tr[data-reference]').getAttribute('data-reference');
    expect(new Set([firstRow, secondRow])).toEqual(new Set([reference, secondRef]));
    expect(await clerk.getByRole('button', { name: '下一页' }).isDisabled()).toBe(true);
    await clerk.getByRole('button', { name: '上一页' }).click();
    await clerk.locator(`tbody tr[data-reference="${firstRow}"]`).waitFor();
    await clerk.goto(`${service.url}/inbox`);

    await clerk.locator(`tr[data-reference="${reference}"] a.ref`).click();
    await clerk.locator('span[data-reference]').waitFor();
    await startAction(clerk, 'ACCEPT');
    await submitAction(clerk, 'ACCEPT');
    expect(await text(clerk, '[data-stage]')).toContain('火化证明办理中');
    const holders = (await clerk.locator('.region .holder').allTextContents()).map((s) => s.trim());
    expect(holders).toEqual(expect.arrayContaining(['办理部门：县级公安局（户政）', '办理部门：殡仪馆']));

    // The funeral home completes its branch; the others stay open.
    const home = await as('funeralhome.xihu');
    await home.goto(`${service.url}/inbox`);
    const row = home.locator(`tr[data-reference="${reference}"]`);
    await row.waitFor();
    expect(await text(home, `tr[data-reference="${reference}"]`)).toContain('火化及火化证明');
    await row.click();
    await home.locator('span[data-reference]').waitFor();
    await startAction(home, 'CREMATION_DONE');
    await submitAction(home, 'CREMATION_DONE');
    expect(await text(home, '[data-state$="cremation.done"]')).toContain('当前');
    expect(await text(home, '[data-state$="cremation.done"]')).toContain('火化证明已出具');
    expect(await text(home, '[data-stage]')).toContain('户口注销办理中');
    expect(await home.locator('[data-action]').count()).toBe(0);
    expect(await seriousViolations(home), 'funeral case page').toEqual([]);
    await home.goto(`${service.url}/inbox`);
    await home.waitForFunction(() => document.querySelector('.total')?.textContent?.includes('加载中') === false);
    expect(await home.locator(`tr[data-reference="${reference}"]`).count()).toBe(0);

    // 不予受理 of the second case: a required reason, then the 不予受理通知书.
    await openCase(clerk, secondCase.id);
    await startAction(clerk, 'REJECT_APPLICATION');
    await clerk.locator('#ev-reason').fill('申请人户籍不在本街道');
    await clerk.locator('form[data-event="REJECT_APPLICATION"] button[type=submit]').click();
    await clerk.waitForURL(new RegExp(`/cases/${secondCase.id}/notice/rejection$`));
    await clerk.locator('.document .reference').waitFor();
    expect(await text(clerk, '.document .reference')).toBe(secondRef);
    expect(await text(clerk, '.document')).toContain('申请人户籍不在本街道');
    await openCase(clerk, caseId);
    expect(await text(clerk, '[data-stage]')).toContain('火化证明已出具');
  }, 60_000);
});
