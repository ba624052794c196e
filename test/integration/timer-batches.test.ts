import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/engine/engine.ts';
import { seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TimerWorker, splitByCase } from '../../src/worker/timerWorker.ts';
import { applicant, application } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// The worker fires a batch in groups of whole cases, side by side, first without savepoints;
// one failing timer must still roll back alone (the group reruns with savepoints).
const NOW = new Date('2026-06-01T02:00:00Z');
let database: TestDatabase;
const engine = createEngine({ clock: () => NOW, cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });

beforeAll(async () => {
  database = await createTestDatabase();
  await seedDemo(database.db);
});
afterAll(() => database?.destroy());

async function casesWithDueTimers(cases: number, perCase: number): Promise<string[]> {
  const db = database.db;
  const u = await db('users').where({ username: 'clerk.beishan' }).first();
  const clerk: Actor = { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
  const ids: string[] = [];
  for (let i = 0; i < cases; i++) {
    const { id } = await db.transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant, application }));
    const task = await db('tasks').where({ case_id: id }).first();
    for (let k = 0; k < perCase; k++) {
      await db('timers').insert({ case_id: id, task_id: task.id, state_id: task.state_id, kind: 'warn', event_type: 'DEADLINE_WARNING', due_at: new Date(NOW.getTime() - (k + 1) * 60_000), created_at: NOW });
    }
    ids.push(id);
  }
  await db('timers').where('due_at', '>', NOW).update({ status: 'cancelled' });
  return ids;
}

describe('splitByCase', () => {
  const c = (caseId: string, id: string) => ({ id, caseId });
  it('keeps each case whole and in order, at most n groups', () => {
    const claimed = [c('a', '1'), c('a', '2'), c('b', '3'), c('c', '4'), c('c', '5'), c('c', '6'), c('d', '7')];
    const groups = splitByCase(claimed, 3);
    expect(groups.length).toBeLessThanOrEqual(3);
    expect(groups.flat()).toEqual(claimed);
    for (const g of groups) for (const other of groups) if (g !== other) expect(g.some((x) => other.some((y) => y.caseId === x.caseId))).toBe(false);
    expect(splitByCase(claimed, 1)).toEqual([claimed]);
    expect(splitByCase([], 4)).toEqual([]);
  });
});

describe('a batch fired in groups', () => {
  it('fires every timer once, and a failing timer rolls back alone', async () => {
    const db = database.db;
    const [bad, ...good] = await casesWithDueTimers(5, 2);
    // The failing case: its event-log insert raises (as a broken row or a bug would).
    await database.asOwner(async (owner) => {
      await owner.raw(`create or replace function bench_fail_case() returns trigger language plpgsql as $$
        begin if new.case_id = '${bad}' then raise exception 'injected failure'; end if; return new; end $$`);
      await owner.raw(`create trigger bench_fail_case before insert on case_events for each row execute function bench_fail_case()`);
    });
    try {
      const worker = new TimerWorker({ db, engine, workerId: 'w-groups', batchSize: 100, concurrency: 3 });
      const r = await worker.runOnce();
      expect(r).toMatchObject({ claimed: 10, failed: 2, busy: 0 });
      expect(r.fired + r.moot).toBe(8);
      const timers = await db('timers').whereIn('case_id', [bad, ...good]).andWhere('due_at', '<', NOW);
      expect(timers.length).toBe(10);
      for (const t of timers.filter((t: any) => t.case_id === bad)) expect(t).toMatchObject({ status: 'pending', attempts: 1, last_error: expect.stringContaining('injected failure') });
      for (const t of timers.filter((t: any) => t.case_id !== bad)) expect(t.status).toBe('fired');
      // Each good case logged each of its two warnings once.
      const events = await db('case_events').whereIn('case_id', good).andWhere('type', 'DEADLINE_WARNING').count<{ count: string }[]>('* as count');
      expect(Number(events[0].count)).toBe(8);
      expect(Number((await db('case_events').where({ case_id: bad, type: 'DEADLINE_WARNING' }).count<{ count: string }[]>('* as count'))[0].count)).toBe(0);
    } finally {
      await database.asOwner(async (owner) => {
        await owner.raw('drop trigger bench_fail_case on case_events');
        await owner.raw('drop function bench_fail_case');
      });
    }
  });
});
