import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// Issue 9: 委派 and 改派 in the workbench (TaskAssignment.vue on its page /cases/:id/tasks/:taskId/assignment).

if (!hasChromium) console.warn(`[e2e] browser tests skipped: no Chromium at ${CHROMIUM}`);

describe.skipIf(!hasChromium)('委派 and 改派 in Chromium', () => {
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
    const login = await fetch(`${service.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: DEMO_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    return async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${service.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      const json = res.status === 204 ? null : ((await res.json()) as any);
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
  }

  /** An accepted 北山 case; its 入户调查 task claimed by 陈刚 (township.beishan). */
  async function claimedHomeVisit() {
    const clerk = await api('clerk.beishan');
    const opened = await clerk('POST', '/api/cases', {
      procedureId: 'social-assistance',
      applicant: { name: '张三丰', idNumber: '11010519491231002X', phone: '13800138000' },
      application: { householdSize: 2, monthlyHouseholdIncomeFen: 90000, reason: '因病致贫' },
    });
    const accepted = await clerk('POST', `/api/cases/${opened.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
    const task = accepted.openTasks.find((t: any) => t.title === '入户调查');
    await (await api('township.beishan'))('POST', `/api/tasks/${task.id}/claim`);
    return { caseId: opened.id as string, taskId: task.id as string };
  }

  async function pageAs(username: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await logIn(page, service.url, username);
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    return { page, errors };
  }

  async function pick(page: Page, name: string) {
    await page.locator('.task-assignment .assignee').click();
    await page.locator('.el-select-dropdown__item', { hasText: name }).click();
  }

  it('the holder delegates to a colleague with a reason; a missing reason is refused beside the field', async () => {
    const { caseId, taskId } = await claimedHomeVisit();
    const { page, errors } = await pageAs('township.beishan');
    await page.goto(`${service.url}/cases/${caseId}/tasks/${taskId}/assignment`);
    await page.locator('.task-assignment').waitFor();
    expect(await page.title()).toBe('任务委派 / 改派 - 一窗通办');
    expect(await page.getByRole('button', { name: '委派给同事' }).count()).toBe(1);
    expect(await seriousViolations(page), 'assignment form').toEqual([]);

    await pick(page, '北山街道社会救助 刘洋');
    await page.getByRole('button', { name: '委派给同事' }).click();
    await page.locator('.el-form-item__error', { hasText: '请说明理由' }).waitFor();

    await page.locator('textarea').fill('本人下周休假，转同事入户');
    await page.getByRole('button', { name: '委派给同事' }).click();
    await page.locator('[role=status]', { hasText: '已提交' }).waitFor();
    // The holder is no longer the holder: nothing more to delegate.
    await page.locator('text=只有该任务的认领人可以委派给同事').waitFor();
    expect(await seriousViolations(page), 'after delegation').toEqual([]);

    const view = await (await api('supervisor.xihu'))('GET', `/api/cases/${caseId}`);
    expect(view.history.find((h: any) => h.type === 'TASK_DELEGATED').payload).toMatchObject({ to: { name: '北山街道社会救助 刘洋' }, reason: '本人下周休假，转同事入户' });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('on the case page, the holder opens 委派 beside the task and hands it over; the timeline shows it', async () => {
    const { caseId } = await claimedHomeVisit();
    const { page, errors } = await pageAs('township.beishan');
    await page.goto(`${service.url}/cases/${caseId}`);
    const row = page.locator('li[data-open-task="sa.homeVisit"], li[data-open-task]', { hasText: '入户调查' }).first();
    await row.getByRole('button', { name: '委派', exact: true }).click();
    await row.locator('.task-assignment').waitFor();
    expect(await seriousViolations(page), 'case page with the assignment form').toEqual([]);
    await pick(page, '北山街道社会救助 刘洋');
    await row.locator('textarea').fill('本人外出培训，转同事入户');
    await row.getByRole('button', { name: '委派给同事' }).click();
    // The page reloads the case: the task is someone else's now, so the holder's 委派 is gone.
    await page.locator('.timeline [data-event-type="TASK_DELEGATED"]').waitFor();
    await page.locator('.task-assignment').waitFor({ state: 'detached' });
    expect(await row.getByRole('button', { name: '委派', exact: true }).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a supervisor reassigns; the service refusing (the task completed meanwhile) shows its message', async () => {
    const { caseId, taskId } = await claimedHomeVisit();
    const { page, errors } = await pageAs('supervisor.xihu');
    await page.goto(`${service.url}/cases/${caseId}/tasks/${taskId}/assignment`);
    await page.locator('.task-assignment').waitFor();
    expect(await page.getByRole('button', { name: '改派' }).count()).toBe(1);
    await pick(page, '北山街道社会救助 刘洋');
    await page.locator('textarea').fill('陈刚任务积压，督办改派');
    await page.getByRole('button', { name: '改派' }).click();
    await page.locator('[role=status]', { hasText: '已提交' }).waitFor();

    // Someone completes the task while the page is open: the next attempt is refused with the service's words.
    await (await api('township2.beishan'))('POST', `/api/tasks/${taskId}/complete`, { outcome: 'HOME_VISIT_COMPLETED', data: { visitors: ['刘洋', '陈刚'], findings: '属实' } });
    await pick(page, '北山街道社会救助 陈刚');
    await page.locator('textarea').fill('再次改派');
    await page.getByRole('button', { name: '改派' }).click();
    await page.locator('.task-assignment [role=alert]', { hasText: '该任务已办结' }).waitFor();
    expect(await seriousViolations(page), 'refusal').toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
