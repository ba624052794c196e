import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { seedDemo } from '../../src/seed.ts';
import type { Actor } from '../../src/engine/engine.ts';
import { DomainError } from '../../src/engine/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { applicant, application } from '../support/app.ts';

// The engine on a real database: a failure anywhere in a command leaves no trace.
let database: TestDatabase;
const engine = createEngine({ clock: () => new Date('2026-04-01T02:00:00Z'), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
const actor = async (username: string): Promise<Actor> => {
  const u = await database.db('users').where({ username }).first();
  return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
};

beforeAll(async () => {
  database = await createTestDatabase();
  await seedDemo(database.db);
});
afterAll(() => database.destroy());

async function state(caseId: string) {
  const db = database.db;
  return {
    c: await db('cases').where({ id: caseId }).first(),
    events: await db('case_events').where({ case_id: caseId }).orderBy('seq'),
    tasks: await db('tasks').where({ case_id: caseId }).orderBy('id'),
    payments: await db('payments').where({ case_id: caseId }),
    outbox: await db('outbox').where({ case_id: caseId }).orderBy('id'),
  };
}

describe('engine transactions', () => {
  it('rolls back snapshot, event log and tasks when the payment ledger refuses a duplicate', async () => {
    const db = database.db;
    const clerk = await actor('clerk.xixi');
    const township = await actor('township.xixi');
    const verify = await actor('verify.xihu');
    const county = await actor('county.xihu');
    const { id } = await db.transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant, application }));
    const send = (who: Actor, type: string, data: object = {}) => db.transaction((t) => engine.sendEvent(t, who, id, { type, data }));
    await send(clerk, 'ACCEPT');
    await send(verify, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 0, propertyWithinLimit: true });
    await send(township, 'HOME_VISIT_COMPLETED', { visitors: ['a', 'b'], findings: '属实' });
    await send(township, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 500 });
    await send(township, 'PUBLIC_NOTICE_ENDED');
    await send(township, 'APPROVE', { monthlyAmountFen: 500, startMonth: '2026-04' });

    // Someone (another system, a bug) already recorded April's payment outside the chart.
    const anyEvent = (await state(id)).events[0];
    await db('payments').insert({ case_id: id, period: '2026-04', amount_fen: 500, event_id: anyEvent.id, created_at: new Date() });
    const before = await state(id);

    const err = await send(county, 'PAY_MONTH', { period: '2026-04' }).catch((e) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('ALREADY_PAID');
    expect(await state(id)).toEqual(before);

    await send(county, 'PAY_MONTH', { period: '2026-05' });
    const after = await state(id);
    expect(after.payments.map((p: any) => p.period).sort()).toEqual(['2026-04', '2026-05']);
    expect(after.outbox.map((o: any) => o.kind).filter((k: string) => !k.startsWith('notice.'))).toEqual(['payment.requested']);
    // Citizen notices are written with their transitions: the refused payment left none.
    expect(after.outbox.map((o: any) => o.kind).filter((k: string) => k.startsWith('notice.'))).toEqual(['notice.accepted', 'notice.decision', 'notice.payment']);
    expect(after.c.version).toBe(before.c.version + 1);
  });

  it('hands out unique, gap-free reference sequences under concurrency', async () => {
    const db = database.db;
    const clerk = await actor('clerk.beishan');
    const created = await Promise.all(
      Array.from({ length: 8 }, () => db.transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant, application }))),
    );
    const seqs = created.map((c) => Number(c.reference.split('-')[3])).sort((a, b) => a - b);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
