import fs from 'node:fs';
import path from 'node:path';
import { openAppDatabase } from '../src/db/connection.ts';
import { DEMO_PASSWORD } from '../src/seed.ts';
import { ensureWebBuild } from './build-web.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, startService } from '../test/e2e/support.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../src/services.ts';
import { DevSinkChannel } from '../src/notifications/channels.ts';
import { NoticeDispatcher } from '../src/notifications/dispatcher.ts';
import { Engine } from '../src/engine/engine.ts';
import { ProcedureRegistry } from '../src/engine/registry.ts';
import { retainedDefinitions } from '../workflows/index.ts';

/**
 * `npm run screenshots`: every screen of the workbench, as README shows them, into
 * docs/screenshots/ — the real service on an in-memory embedded database, Debian's Chromium.
 */

// Page-side global inside page.evaluate (the root tsconfig has no DOM library).
declare const sessionStorage: { getItem(key: string): string | null };
declare const document: { getAnimations(): any[] };

const OUT = path.resolve(import.meta.dirname, '../docs/screenshots');

if (!hasChromium) {
  console.error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  process.exit(1);
}
await ensureWebBuild(console.log);
fs.mkdirSync(OUT, { recursive: true });
const db = await openAppDatabase({ kind: 'embedded' });
const service = await startService(db);
const browser = await launchBrowser();
const shot = async (page: import('playwright-core').Page, name: string) => {
  // Element Plus fades colours in (a radio button just chosen): shoot the settled screen, not a half-drawn one.
  await page.waitForFunction(() => document.getAnimations().every((a: any) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity));
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
  console.log(`docs/screenshots/${name}.png`);
};

try {
  const page = await browser.context.newPage();
  await page.goto(`${service.url}/login`);
  await page.locator('#username').waitFor();
  await shot(page, 'login');

  await logIn(page, service.url, 'clerk.beishan');
  await page.waitForURL(/\/window$/);
  await page.locator('#procedure').click();
  await page.locator('.el-select-dropdown__item', { hasText: '最低生活保障' }).click();
  await page.locator('#f-applicant-name').fill('张三丰');
  await page.locator('#f-applicant-idNumber').fill('110105194912310021');
  await page.locator('#f-applicant-phone').fill('13800138000');
  await page.locator('#f-application-householdSize').fill('3');
  await page.locator('#f-application-monthlyHouseholdIncomeFen').fill('1200');
  await page.locator('#f-application-reason').fill('因病致贫，家庭收入低于当地低保标准');
  for (const code of ['application-form', 'id-hukou', 'income-declaration']) await page.locator(`[data-material="${code}"]`).click();
  await page.getByRole('button', { name: '提交受理' }).click();
  await page.locator('.el-form-item__error').first().waitFor();
  await shot(page, 'window-form-error');

  await page.locator('#f-applicant-idNumber').fill('11010519491231002X');
  await page.getByRole('button', { name: '提交受理' }).click();
  await page.locator('.receipt img').waitFor();
  await shot(page, 'receipt');
  const reference = ((await page.locator('.receipt .reference').textContent()) ?? '').trim();
  const code = ((await page.locator('.receipt .code').textContent()) ?? '').trim();

  // The window's documents (一次性告知书, 不予受理通知书): two cases decided at the window through the API.
  const token = await page.evaluate(() => sessionStorage.getItem('onewindow.token'));
  const asClerk = async (method: string, url: string, body: unknown) =>
    (await fetch(`${service.url}${url}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<any>;
  for (const [name, kind, type, data] of [
    ['notice-supplement', 'supplement', 'REQUEST_SUPPLEMENT', { missingMaterials: ['income-declaration', 'verification-authorization'], note: '收入申报须由全体家庭成员签字' }],
    ['notice-rejection', 'rejection', 'REJECT_APPLICATION', { reason: '申请人户籍不在本街道，请向户籍所在地街道（乡镇）申请' }],
  ] as const) {
    const opened = await asClerk('POST', '/api/cases', {
      procedureId: 'social-assistance',
      applicant: { name: '张三丰', idNumber: '11010519491231002X', phone: '13800138000' },
      application: { householdSize: 3, monthlyHouseholdIncomeFen: 120000, reason: '因病致贫，家庭收入低于当地低保标准', submittedMaterials: ['application-form', 'id-hukou'] },
    });
    await asClerk('POST', `/api/cases/${opened.id}/events`, { type, data, expectedVersion: 1 });
    await page.goto(`${service.url}/cases/${opened.id}/notice/${kind}`);
    await page.locator('.notice .reference').waitFor();
    await shot(page, name);
  }

  const phone = await browser.context.newPage();
  await phone.setViewportSize({ width: 375, height: 740 });
  await phone.goto(`${service.url}/track?ref=${encodeURIComponent(reference)}`);
  await phone.locator('#code').fill(code);
  await phone.getByRole('button', { name: '查询' }).click();
  await phone.locator('.result').waitFor();
  await shot(phone, 'track-mobile');

  // 好差评 (docs/ratings.md): a case decided at the window, its result rated on the phone.
  const rated = await asClerk('POST', '/api/cases', {
    procedureId: 'social-assistance',
    applicant: { name: '李四', idNumber: '11010519491231002X', phone: '13800138001' },
    application: { householdSize: 2, monthlyHouseholdIncomeFen: 300000, reason: '因病致贫', submittedMaterials: ['application-form', 'id-hukou'] },
  });
  await asClerk('POST', `/api/cases/${rated.id}/events`, { type: 'REJECT_APPLICATION', data: { reason: '家庭收入超过当地低保标准' }, expectedVersion: 1 });
  await phone.goto(`${service.url}/track?ref=${encodeURIComponent(rated.reference)}`);
  await phone.locator('#code').fill(rated.trackingCode);
  await phone.getByRole('button', { name: '查询' }).click();
  await phone.locator('#rating-title').waitFor();
  await phone.getByRole('radiogroup', { name: '总体评价' }).getByText('满意', { exact: true }).click();
  await phone.locator('#rating-title').scrollIntoViewIfNeeded();
  await shot(phone, 'rating-mobile');

  // 待办 and the case page (after 受理: both investigation branches live in the diagram).
  await page.goto(`${service.url}/inbox`);
  await page.locator(`tr[data-reference="${reference}"]`).waitFor();
  await shot(page, 'inbox');
  await page.locator(`tr[data-reference="${reference}"] a.ref`).click();
  await page.locator('[data-action="ACCEPT"]').click();
  await page.locator('#ev-note').fill('材料齐全，予以受理');
  await page.locator('form[data-event="ACCEPT"] button[type=submit]').click();
  await page.locator('.done[role=status]').waitFor();
  await shot(page, 'case-page');

  const reviewer = await browser.context.newPage();
  await logIn(reviewer, service.url, 'township.beishan');
  await reviewer.waitForURL(/\/inbox$/);
  await shot(reviewer, 'reviewer-menu');

  // 督办看板 and 管理 (issue 8 screens 4 and 6): a few more cases, then time moves on.
  const login = async (username: string) =>
    ((await (await fetch(`${service.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: DEMO_PASSWORD }) })).json()) as { token: string }).token;
  const post = (token: string, url: string, body: unknown) =>
    fetch(`${service.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ id: string }>);
  const openAccepted = async (clerk: string) => {
    const token = await login(clerk);
    const opened = await post(token, '/api/cases', {
      procedureId: 'social-assistance',
      applicant: { name: '李四', idNumber: '11010519491231002X', phone: '13800138000' },
      application: { householdSize: 2, monthlyHouseholdIncomeFen: 90000, reason: '家庭成员患重病，收入低于当地低保标准' },
    });
    await post(token, `/api/cases/${opened.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  };
  for (const clerk of ['clerk.beishan', 'clerk.xixi']) await openAccepted(clerk);
  service.clock.advance(4 * 86_400_000); // 2026-03-06
  for (const clerk of ['clerk.beishan', 'clerk.xixi', 'clerk.xixi']) await openAccepted(clerk);
  service.clock.advance(12 * 86_400_000); // 2026-03-18: the first cases overdue, the later ones due soon

  const supervisor = await browser.context.newPage();
  await logIn(supervisor, service.url, 'supervisor.xihu');
  await supervisor.waitForURL(/\/supervision$/);
  await supervisor.locator('tr[data-department="county-verification"] button[data-bucket="overdue"]').click();
  await supervisor.locator('.list .task-row').first().waitFor();
  await shot(supervisor, 'board');

  const admin = await browser.context.newPage();
  await logIn(admin, service.url, 'admin.xihu');
  await admin.waitForURL(/\/admin\/calendars$/);
  await admin.locator('[data-day="2026-10-01"].holiday').waitFor();
  await admin.locator('#cal-holidays').waitFor();
  await shot(admin, 'calendars');
  await admin.locator('nav[aria-label="管理子菜单"] a', { hasText: '用户' }).click();
  await admin.locator('tr[data-username="clerk.beishan"]').waitFor();
  await shot(admin, 'users');

  // 群众通知 (admin): the notices of the cases so far dead-lettered by a refusing gateway, the
  // next one delivered to the development sink.
  const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);
  const dispatcher = (channel: ConstructorParameters<typeof NoticeDispatcher>[0]['channel']) =>
    new NoticeDispatcher({ db, cipher, clock: service.clock.now, channel, publicBaseUrl: service.url });
  await dispatcher({ name: 'http-gateway', send: async () => ({ ok: false, retryable: false, error: 'gateway HTTP 400: 号码无效' }) }).runOnce();
  await post(await login('clerk.beishan'), '/api/cases', {
    procedureId: 'social-assistance',
    applicant: { name: '李秀英', idNumber: '11010519491231002X', phone: '13900139000' },
    application: { householdSize: 2, monthlyHouseholdIncomeFen: 90000, reason: '因残致贫' },
  });
  await dispatcher(new DevSinkChannel({ db, cipher, clock: service.clock.now })).runOnce();
  await admin.goto(`${service.url}/admin/notices`);
  await admin.locator('tr[data-notice]').first().waitFor();
  await shot(admin, 'admin-notices');
  await admin.getByRole('tab', { name: '开发沙箱短信' }).click();
  await admin.locator('li[data-sink]').first().waitFor();
  await shot(admin, 'admin-notices-sink');
  // 流程版本迁移 (docs/versioning.md): version-1 低保 cases (as before the upgrade) previewed for migration to version 2.
  {
    const v1 = retainedDefinitions.find((d) => d.id === 'social-assistance' && d.version === 1)!;
    const before = new Engine({ registry: new ProcedureRegistry([v1]), cipher, clock: service.clock.now });
    const actor = async (username: string) => {
      const u = await db('users').where({ username }).first();
      return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
    };
    const [clerk, medical] = [await actor('clerk.beishan'), await actor('medical.xihu')];
    for (const step of [1, 1, 2]) {
      await db.transaction(async (trx) => {
        const o = await before.openCase(trx, clerk, { procedureId: 'social-assistance', applicant: { name: '王建国', idNumber: '11010519491231002X', phone: '13900139000' }, application: { householdSize: 2, monthlyHouseholdIncomeFen: 80000, reason: '因病致贫' } });
        await before.sendEvent(trx, clerk, o.id, { type: 'ACCEPT', data: { referToMedicalAssistance: true } });
        if (step > 1) await before.sendEvent(trx, medical, o.id, { type: 'MEDICAL_ASSISTANCE_GRANTED', data: {} });
      });
    }
    await admin.goto(`${service.url}/admin/definition-migrations`);
    await admin.getByRole('button', { name: '预演' }).click();
    await admin.locator('[data-totals]').waitFor();
    await shot(admin, 'definition-migration');
  }
  // 故障处理 (admin): the dead-letter notices above, listed as incidents (docs/payments.md).
  await admin.goto(`${service.url}/admin/incidents`);
  await admin.locator('tr[data-incident]').first().waitFor();
  await shot(admin, 'admin-incidents');
  // 委派 (TaskAssignment.vue): 陈刚 hands his claimed 入户调查 task to a colleague.
  {
    // Sessions last 24 hours of the service's clock, which the board moved on: log in again.
    await logIn(reviewer, service.url, 'township.beishan');
    await reviewer.waitForURL(/\/inbox$/);
    const rtoken = await reviewer.evaluate(() => sessionStorage.getItem('onewindow.token'));
    const token = await login('clerk.beishan');
    const as = async (t: string | null, method: string, url: string, body?: unknown) =>
      (await fetch(`${service.url}${url}`, { method, headers: { authorization: `Bearer ${t}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })).text();
    const opened = JSON.parse(await as(token, 'POST', '/api/cases', {
      procedureId: 'social-assistance',
      applicant: { name: '张三丰', idNumber: '11010519491231002X', phone: '13800138000' },
      application: { householdSize: 3, monthlyHouseholdIncomeFen: 120000, reason: '因病致贫，家庭收入低于当地低保标准' },
    }));
    const accepted = JSON.parse(await as(token, 'POST', `/api/cases/${opened.id}/events`, { type: 'ACCEPT', data: { referrals: ['medical', 'education'] }, expectedVersion: 1 }));
    const visit = accepted.openTasks.find((t: any) => t.title === '入户调查');
    await as(rtoken, 'POST', `/api/tasks/${visit.id}/claim`);
    await reviewer.goto(`${service.url}/cases/${opened.id}/tasks/${visit.id}/assignment`);
    await reviewer.locator('.task-assignment .assignee').click();
    await reviewer.locator('.el-select-dropdown__item', { hasText: '刘洋' }).click();
    await reviewer.locator('textarea').fill('本人下周休假，转同事入户调查');
    await reviewer.locator('.el-select-dropdown').first().waitFor({ state: 'hidden' });
    await shot(reviewer, 'task-assignment');
  }
  // 月报告 (issue 9): 身后一件事 cases in April — on time, late, refused, still open — seen on 6 May.
  const as = async (username: string) => {
    const token = await login(username);
    const headers = { authorization: `Bearer ${token}` };
    return {
      open: async () =>
        (await service.app.inject({ method: 'POST', url: '/api/cases', headers, payload: { procedureId: 'funeral', applicant: { name: '李四', idNumber: '11010519491231002X', phone: '13800138000' }, application: { deceased: { name: '李五', idNumber: '11010519491231002X', dateOfDeath: '2026-03-30' }, relationship: '子女', branches: { pension: false, medicalInsurance: false, housingFund: false, socialSecurityCard: false } } } })).json().id as string,
      send: async (id: string, type: string, data: object = {}) => {
        const { version } = (await service.app.inject({ method: 'GET', url: `/api/cases/${id}`, headers })).json();
        await service.app.inject({ method: 'POST', url: `/api/cases/${id}/events`, headers, payload: { type, data, expectedVersion: version } });
      },
    };
  };
  service.clock.current = new Date('2026-04-01T01:30:00Z');
  const clerks = { beishan: await as('clerk.beishan'), xixi: await as('clerk.xixi') };
  // Sessions last 24 hours of the service's clock: log in again after moving it.
  const finish = async (id: string) => {
    for (const [user, type] of [['police.xihu', 'HOUSEHOLD_DONE'], ['funeralhome.xihu', 'CREMATION_DONE'], ['county.xihu', 'FUNERAL_SUBSIDY_DONE']]) await (await as(user)).send(id, type);
  };
  const monthCases: Array<{ clerk: keyof typeof clerks; id: string }> = [];
  for (const clerk of ['beishan', 'xixi', 'beishan', 'xixi', 'xixi'] as const) monthCases.push({ clerk, id: await clerks[clerk].open() });
  for (const { clerk, id } of monthCases.slice(0, 4)) await clerks[clerk].send(id, 'ACCEPT');
  await clerks.xixi.send(monthCases[4].id, 'REJECT_APPLICATION', { reason: '不属于本辖区' });
  service.clock.current = new Date('2026-04-03T01:30:00Z');
  await finish(monthCases[0].id);
  await finish(monthCases[1].id);
  service.clock.current = new Date('2026-04-28T01:30:00Z'); // 18 working days: late
  await finish(monthCases[2].id);
  service.clock.current = new Date('2026-05-06T01:30:00Z');
  const reportPage = await browser.context.newPage();
  await logIn(reportPage, service.url, 'supervisor.xihu');
  await reportPage.waitForURL(/\/supervision$/);
  await reportPage.goto(`${service.url}/supervision/report?month=2026-04`);
  await reportPage.locator('svg.chart').waitFor();
  await shot(reportPage, 'monthly-report');

  // 网上申请 (docs/online-applications.md): the citizen's form on a phone, the code step, and the clerk's 预审.
  const citizen = await browser.context.newPage();
  await citizen.setViewportSize({ width: 375, height: 812 });
  await citizen.goto(`${service.url}/apply`);
  await citizen.locator('.el-select:has(#procedure)').click();
  await citizen.locator('.el-select-dropdown__item', { hasText: '最低生活保障' }).click();
  await citizen.locator('.el-select:has(#region)').click();
  await citizen.locator('.el-select-dropdown__item:visible', { hasText: '北山街道' }).click();
  await citizen.locator('#f-applicant-name').fill('陈网申');
  await citizen.locator('#f-applicant-idNumber').fill('11010519491231002X');
  await citizen.locator('#f-applicant-phone').fill('13800138000');
  await citizen.locator('#f-application-householdSize').fill('2');
  await citizen.locator('#f-application-monthlyHouseholdIncomeFen').fill('800');
  await citizen.locator('#f-application-reason').fill('因病致贫，家庭收入低于当地低保标准');
  for (const m of ['application-form', 'id-hukou']) await citizen.locator(`[data-material="${m}"]`).click();
  await shot(citizen, 'apply-mobile');
  await citizen.getByRole('button', { name: '下一步：验证手机' }).click();
  await citizen.getByRole('button', { name: '获取验证码' }).click();
  await citizen.locator('[role=status]').waitFor();
  await shot(citizen, 'apply-phone-code');
  const sealed = await db('outbox').where({ kind: 'notice.phone_code' }).orderBy('id', 'desc').first();
  const phoneCode = cipher.decrypt((typeof sealed.payload === 'string' ? JSON.parse(sealed.payload) : sealed.payload).code);
  await citizen.locator('#code').fill(phoneCode);
  await citizen.getByRole('button', { name: '验证并提交' }).click();
  await citizen.locator('.done').waitFor();
  const prescreen = await browser.context.newPage();
  await logIn(prescreen, service.url, 'clerk.beishan');
  await prescreen.waitForURL(/\/window$/);
  await prescreen.goto(`${service.url}/window/prescreen`);
  await prescreen.locator('article[data-application]').first().waitFor();
  await shot(prescreen, 'prescreen');
  // 主动发现 (docs/leads.md): the grid worker's form on a phone-sized screen, the township's list.
  const gridPage = await browser.context.newPage();
  await gridPage.setViewportSize({ width: 414, height: 896 });
  await logIn(gridPage, service.url, 'grid.beishan');
  await gridPage.waitForURL(/\/leads$/);
  await gridPage.goto(`${service.url}/leads/new`);
  await gridPage.locator('.el-radio-button', { hasText: '紧急' }).click();
  await gridPage.getByText('1个工作日内审核，可按急难型先行救助').waitFor();
  await gridPage.locator('#lead-name').fill('李四海');
  await gridPage.locator('#lead-id').fill('11010519491231002X');
  await gridPage.locator('#lead-phone').fill('13900139000');
  await gridPage.locator('#lead-address').fill('北山街道曙光路8号');
  await gridPage.locator('#lead-situation').fill('户主因车祸住院，配偶无业，两名子女在读');
  await shot(gridPage, 'lead-register');
  await gridPage.getByRole('button', { name: '提交线索' }).click();
  await gridPage.locator('[role=status]', { hasText: '线索已登记' }).waitFor();
  const townPage = await browser.context.newPage();
  await logIn(townPage, service.url, 'township.beishan');
  await townPage.waitForURL(/\/inbox$/);
  await townPage.goto(`${service.url}/leads`);
  await townPage.locator('.card', { hasText: '李*海' }).waitFor();
  await shot(townPage, 'leads');
} finally {
  await browser.close();
  await service.close();
  await db.destroy();
}
