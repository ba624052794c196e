import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Actor } from '../../src/engine/engine.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { openAppDatabase } from '../../src/db/connection.ts';
import { seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { applicant, application } from '../support/app.ts';

// `npm start` without DATABASE_URL: the embedded database on disk is created on first start (in
// a child process, src/db/connection.ts) and what the office recorded is still there after a
// restart. It does not depend on the server under test, so the PostgreSQL run skips it.
describe.skipIf(Boolean(inject('databaseUrl')))('embedded database on disk', () => {
  let root: string;
  let dataDir: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'onewindow-embedded-'));
    dataDir = path.join(root, 'data', 'pglite');
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const engine = createEngine({ clock: () => new Date('2026-06-01T02:00:00Z'), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });

  it('is created on a fresh data directory and keeps a case across a restart', async () => {
    const first = await openAppDatabase({ kind: 'embedded', dataDir });
    let caseId: string;
    try {
      await seedDemo(first);
      const u = await first('users').where({ username: 'clerk.beishan' }).first();
      const clerk: Actor = { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
      ({ id: caseId } = await first.transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant, application })));
    } finally {
      await first.destroy();
    }
    // Built beside the data directory and renamed into place: nothing half-made is left over.
    expect(fs.readdirSync(path.dirname(dataDir))).toEqual(['pglite']);
    expect(fs.existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);

    const again = await openAppDatabase({ kind: 'embedded', dataDir });
    try {
      expect(await again('users').where({ username: 'clerk.beishan' }).first()).toBeTruthy();
      expect(await again('cases').where({ id: caseId }).first()).toMatchObject({ procedure_id: 'social-assistance' });
      expect(Number((await again('case_events').where({ case_id: caseId }).count({ n: '*' }))[0].n)).toBeGreaterThan(0);
      // The service still writes after the restart.
      const u = await again('users').where({ username: 'clerk.beishan' }).first();
      const clerk: Actor = { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
      await again.transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant, application }));
      expect(Number((await again('cases').count({ n: '*' }))[0].n)).toBe(2);
    } finally {
      await again.destroy();
    }
  });
});
