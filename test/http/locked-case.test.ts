import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// B4: one case row locked from outside (a DBA session, a migration, a report) must cost the
// service that case only. PGlite has one connection, so this needs a PostgreSQL server; the
// app runs on the real pool of 10 (test/support/db.ts).
const ctx = useTestApp();
const onPostgres = () => ctx.database.kind === 'postgres';

const HOME_VISIT = { type: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '情况属实' }, expectedVersion: 2 };

async function acceptedCase(): Promise<string> {
  const clerk = await ctx.as('clerk.beishan');
  const { id } = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
  const accepted = await clerk.post(`/api/cases/${id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  expect(accepted.statusCode, accepted.body).toBe(200);
  return id;
}

/** Holds `FOR UPDATE` on one case row from a session outside the service until released. */
async function lockFromOutside(caseId: string) {
  const outside = new pg.Client({ connectionString: ctx.database.url });
  await outside.connect();
  await outside.query('begin');
  await outside.query('select id from cases where id = $1 for update', [caseId]);
  // The 15 s the lock would be held: every answer below must come long before that.
  const releaseBy = Date.now() + 15_000;
  return {
    releaseBy,
    async release() {
      await outside.query('rollback');
      await outside.end();
    },
  };
}

const timed = async <T>(f: () => Promise<T>) => {
  const t0 = performance.now();
  const value = await f();
  return { value, ms: performance.now() - t0 };
};

describe('a case locked from outside', () => {
  it('answers its 20 writers 409 CASE_BUSY within 5 s while other cases and /api/auth/me answer within 1 s', async (t) => {
    if (!onPostgres()) return t.skip();
    const [a, b] = [await acceptedCase(), await acceptedCase()];
    const township = await ctx.as('township.beishan');
    const verify = await ctx.as('verify.xihu');
    const lock = await lockFromOutside(a);
    try {
      const writers = Promise.all(Array.from({ length: 20 }, () => timed(() => township.post(`/api/cases/${a}/events`, HOME_VISIT))));
      // While A's writers are in flight, the rest of the service keeps answering.
      const probes: Array<{ what: string; ms: number; status: number }> = [];
      const probeLoop = (async () => {
        for (let i = 0; i < 5; i++) {
          for (const [what, f] of [
            ['me', () => township.get('/api/auth/me')],
            ['view B', () => township.get(`/api/cases/${b}`)],
            ['inbox', () => township.get('/api/tasks')],
          ] as const) {
            const { value, ms } = await timed(f);
            probes.push({ what, ms, status: value.statusCode });
          }
        }
        const write = await timed(() => verify.post(`/api/cases/${b}/events`, { type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true }, expectedVersion: 2 }));
        probes.push({ what: 'write B', ms: write.ms, status: write.value.statusCode });
      })();
      const [answers] = await Promise.all([writers, probeLoop]);

      for (const { value, ms } of answers) {
        expect(ms).toBeLessThan(5_000);
        expect(value.statusCode, value.body).toBe(409);
        expect(value.json()).toMatchObject({ code: 'CASE_BUSY', message: '案件正在处理中，请稍后重试', details: { retryAfterSeconds: expect.any(Number) } });
        expect(Number(value.headers['retry-after'])).toBeGreaterThan(0);
      }
      for (const p of probes) {
        expect(p.status, p.what).toBe(200);
        expect(p.ms, p.what).toBeLessThan(1_000);
      }
      expect(Date.now()).toBeLessThan(lock.releaseBy); // all of it while the lock was still held
      // A is untouched: no event written by any of its writers.
      expect((await ctx.database.db('cases').where({ id: a }).first()).version).toBe(2);
    } finally {
      await lock.release();
    }
    // Once the lock is gone, A takes commands again.
    const after = await township.post(`/api/cases/${a}/events`, HOME_VISIT);
    expect(after.statusCode, after.body).toBe(200);
  });

  it('lets the timer worker treat a locked case as "retry later", not as a failure', async (t) => {
    if (!onPostgres()) return t.skip();
    const { TimerWorker } = await import('../../src/worker/timerWorker.ts');
    const a = await acceptedCase();
    const { db } = ctx.database;
    const task = await db('tasks').where({ case_id: a, status: 'open' }).first();
    await db('timers').where({ case_id: a }).update({ due_at: new Date(ctx.clock.now().getTime() - 60_000) });
    const due = await db('timers').where({ case_id: a, status: 'pending' });
    expect(due.length).toBeGreaterThan(0);
    const worker = new TimerWorker({ db, engine: ctx.engine, workerId: 'w-busy' });
    const lock = await lockFromOutside(a);
    try {
      const r = await worker.runOnce();
      expect(r).toMatchObject({ busy: due.length, failed: 0, fired: 0 });
      const after = await db('timers').whereIn('id', due.map((d: any) => d.id));
      // Handed back at once, no failure recorded, the attempt not counted.
      for (const timer of after) expect(timer).toMatchObject({ status: 'pending', locked_until: null, last_error: null, attempts: 0 });
    } finally {
      await lock.release();
    }
    const r = await worker.runOnce();
    expect(r.fired + r.moot).toBe(due.length);
    expect(task).toBeDefined();
  });
});
