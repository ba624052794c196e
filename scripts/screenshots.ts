import fs from 'node:fs';
import path from 'node:path';
import { openAppDatabase } from '../src/db/connection.ts';
import { ensureWebBuild } from './build-web.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, startService } from '../test/e2e/support.ts';

/**
 * `npm run screenshots`: every screen of the workbench, as README shows them, into
 * docs/screenshots/ — the real service on an in-memory embedded database, Debian's Chromium.
 */

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

  const phone = await browser.context.newPage();
  await phone.setViewportSize({ width: 375, height: 740 });
  await phone.goto(`${service.url}/track?ref=${encodeURIComponent(reference)}`);
  await phone.locator('#code').fill(code);
  await phone.getByRole('button', { name: '查询' }).click();
  await phone.locator('.result').waitFor();
  await shot(phone, 'track-mobile');

  const reviewer = await browser.context.newPage();
  await logIn(reviewer, service.url, 'township.beishan');
  await reviewer.waitForURL(/\/inbox$/);
  await shot(reviewer, 'reviewer-menu');

  // 月报告 (issue 9): a few 身后一件事 cases in March — on time, late, refused, still open — then April 1.
  const as = async (username: string) => {
    const login = await service.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: 'OneWindow@2026' } });
    const headers = { authorization: `Bearer ${login.json().token}` };
    return {
      open: async () =>
        (await service.app.inject({ method: 'POST', url: '/api/cases', headers, payload: { procedureId: 'funeral', applicant: { name: '李四', idNumber: '11010519491231002X', phone: '13800138000' }, application: { deceased: { name: '李五', idNumber: '11010519491231002X', dateOfDeath: '2026-03-01' }, relationship: '子女', branches: { pension: false, medicalInsurance: false, housingFund: false, socialSecurityCard: false } } } })).json().id as string,
      send: async (id: string, type: string, data: object = {}) => {
        const { version } = (await service.app.inject({ method: 'GET', url: `/api/cases/${id}`, headers })).json();
        await service.app.inject({ method: 'POST', url: `/api/cases/${id}/events`, headers, payload: { type, data, expectedVersion: version } });
      },
    };
  };
  const clerks = { beishan: await as('clerk.beishan'), xixi: await as('clerk.xixi') };
  // Sessions last 24 hours of the service's clock: log in again after moving it.
  const finish = async (id: string) => {
    for (const [user, type] of [['police.xihu', 'HOUSEHOLD_DONE'], ['funeralhome.xihu', 'CREMATION_DONE'], ['county.xihu', 'FUNERAL_SUBSIDY_DONE']]) await (await as(user)).send(id, type);
  };
  const monthCases: Array<{ clerk: keyof typeof clerks; id: string }> = [];
  for (const clerk of ['beishan', 'xixi', 'beishan', 'xixi', 'xixi'] as const) {
    const id = await clerks[clerk].open();
    monthCases.push({ clerk, id });
  }
  for (const { clerk, id } of monthCases.slice(0, 4)) await clerks[clerk].send(id, 'ACCEPT');
  await clerks.xixi.send(monthCases[4].id, 'REJECT_APPLICATION', { reason: '不属于本辖区' });
  service.clock.current = new Date('2026-03-12T01:30:00Z');
  await finish(monthCases[0].id);
  await finish(monthCases[1].id);
  service.clock.current = new Date('2026-03-27T01:30:00Z');
  await finish(monthCases[2].id);
  service.clock.current = new Date('2026-04-01T01:30:00Z');
  const supervisor = await browser.context.newPage();
  await logIn(supervisor, service.url, 'supervisor.xihu');
  await supervisor.waitForURL(/\/supervision$/);
  await supervisor.goto(`${service.url}/supervision/report?month=2026-03`);
  await supervisor.locator('svg.chart').waitFor();
  await shot(supervisor, 'monthly-report');
} finally {
  await browser.close();
  await service.close();
  await db.destroy();
}
