import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { Engine } from '../../src/engine/engine.ts';
import { ProcedureRegistry } from '../../src/engine/registry.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { retainedDefinitions } from '../../workflows/index.ts';
import { applicant, application } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { hasChromium, launchBrowser, logIn, seriousViolations, startService, watchErrors, type Browser, type Service } from './support.ts';

// 流程版本迁移 (admin) in Chromium: a dry run's table, then the run after a second confirmation.
describe.skipIf(!hasChromium)('流程版本迁移 (admin) in Chromium', () => {
  let database: TestDatabase;
  let service: Service;
  let browser: Browser;
  const ids: string[] = [];

  beforeAll(async () => {
    await ensureWebBuild();
    database = await createTestDatabase();
    service = await startService(database.db);
    browser = await launchBrowser();
    // Three version-1 低保 cases: in acceptance, in handling with 医疗救助 pending, and with it decided (refused by the mapping).
    const v1 = retainedDefinitions.find((d) => d.id === 'social-assistance' && d.version === 1)!;
    const before = new Engine({ registry: new ProcedureRegistry([v1]), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS), clock: service.clock.now });
    const actor = async (username: string) => {
      const u = await database.db('users').where({ username }).first();
      return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
    };
    const clerk = await actor('clerk.beishan');
    const medical = await actor('medical.xihu');
    for (const step of [0, 1, 2]) {
      ids.push(
        await database.db.transaction(async (trx) => {
          const o = await before.openCase(trx, clerk, { procedureId: 'social-assistance', applicant, application });
          if (step > 0) await before.sendEvent(trx, clerk, o.id, { type: 'ACCEPT', data: { referToMedicalAssistance: true } });
          if (step > 1) await before.sendEvent(trx, medical, o.id, { type: 'MEDICAL_ASSISTANCE_GRANTED', data: {} });
          return o.id;
        }),
      );
    }
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await database?.destroy();
  });

  it('an admin previews, reads the refused case, and migrates after confirming', async () => {
    const p = await browser.context.newPage();
    const errors = watchErrors(p);
    await logIn(p, service.url, 'admin.xihu');
    await p.waitForURL(/\/admin\/calendars$/);
    await p.locator('nav[aria-label="管理子菜单"] a', { hasText: '流程版本' }).click();
    await p.waitForURL(/\/admin\/definition-migrations$/);
    await p.getByRole('button', { name: '预演' }).click();
    await p.locator('[data-totals]').waitFor();
    expect(await p.locator('[data-totals]').textContent()).toContain('运行中 3 件 · 可迁移 2 件 · 不能迁移 1 件');
    expect(await p.locator('tr[data-row="mapped"]').count()).toBe(2);
    expect(await p.locator('tr[data-row="refused"]').textContent()).toContain('版本1未记录救助方式');
    expect(await p.locator('table.list').textContent()).toContain('医疗救助审核中（医保部门）');
    expect(await seriousViolations(p), 'dry run').toEqual([]);
    // Nothing written by the preview.
    expect((await database.db('cases').whereIn('id', ids).pluck('definition_version')).sort()).toEqual([1, 1, 1]);

    await p.getByRole('button', { name: '执行迁移…' }).click();
    await p.getByRole('button', { name: '确认执行迁移' }).click();
    await p.getByRole('status').filter({ hasText: '已迁移 2 件' }).waitFor();
    expect(await p.locator('[data-totals]').textContent()).toContain('已迁移 2 件');
    const versions = Object.fromEntries((await database.db('cases').whereIn('id', ids).select('id', 'definition_version')).map((r: any) => [r.id, r.definition_version]));
    expect(ids.map((id) => versions[id])).toEqual([2, 2, 1]);
    expect(errors).toEqual([]);
  });
});
