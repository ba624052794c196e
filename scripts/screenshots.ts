import fs from 'node:fs';
import path from 'node:path';
import { openAppDatabase } from '../src/db/connection.ts';
import { ensureWebBuild } from './build-web.ts';
import { CHROMIUM, hasChromium, launchBrowser, logIn, startService } from '../test/e2e/support.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../src/services.ts';
import { DevSinkChannel } from '../src/notifications/channels.ts';
import { NoticeDispatcher } from '../src/notifications/dispatcher.ts';

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

  // 群众通知 (admin): the receipt's acceptance notice dead-lettered by a refusing gateway, the
  // next one delivered to the development sink.
  const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);
  const dispatcher = (channel: ConstructorParameters<typeof NoticeDispatcher>[0]['channel']) =>
    new NoticeDispatcher({ db, cipher, clock: service.clock.now, channel, publicBaseUrl: service.url });
  await dispatcher({ name: 'http-gateway', send: async () => ({ ok: false, retryable: false, error: 'gateway HTTP 400: 号码无效' }) }).runOnce();
  await page.goto(`${service.url}/window`);
  await page.locator('#procedure').click();
  await page.locator('.el-select-dropdown__item', { hasText: '最低生活保障' }).click();
  await page.locator('#f-applicant-name').fill('李秀英');
  await page.locator('#f-applicant-idNumber').fill('11010519491231002X');
  await page.locator('#f-applicant-phone').fill('13900139000');
  await page.locator('#f-application-householdSize').fill('2');
  await page.locator('#f-application-monthlyHouseholdIncomeFen').fill('900');
  await page.locator('#f-application-reason').fill('因残致贫');
  for (const code of ['application-form', 'id-hukou', 'income-declaration']) await page.locator(`[data-material="${code}"]`).click();
  await page.getByRole('button', { name: '提交受理' }).click();
  await page.locator('.receipt img').waitFor();
  await dispatcher(new DevSinkChannel({ db, cipher, clock: service.clock.now })).runOnce();
  const admin = await browser.context.newPage();
  await logIn(admin, service.url, 'admin.xihu');
  await admin.waitForURL(/\/admin$/);
  await admin.goto(`${service.url}/admin/notices`);
  await admin.locator('tr[data-notice]').first().waitFor();
  await shot(admin, 'admin-notices');
  await admin.getByRole('tab', { name: '开发沙箱短信' }).click();
  await admin.locator('li[data-sink]').first().waitFor();
  await shot(admin, 'admin-notices-sink');
} finally {
  await browser.close();
  await service.close();
  await db.destroy();
}
