import pg from 'pg';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// B5: the pool's connections are cut (pg_terminate_backend, as a failover or a DBA would) while
// commands and reads run. No answer may be a 500; every refusal says when to retry; nothing is
// lost or doubled; a command answered 503 succeeds when retried with its Idempotency-Key.
// PostgreSQL only: PGlite lives in this process and cannot be cut.
const ctx = useTestApp();

// Each case cycles 公示 objection → 信息核对 → 入户调查 → 初审 → 公示 again, as in the bench.
const CYCLE = [
  { user: 'township.beishan', type: 'OBJECTION_RAISED', data: { details: '群众异议，重新调查' } },
  { user: 'verify.xihu', type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true } },
  { user: 'township.beishan', type: 'HOME_VISIT_COMPLETED', data: { visitors: ['甲', '乙'], findings: '属实' } },
  { user: 'township.beishan', type: 'PRELIMINARY_APPROVE', data: { proposedMonthlyAmountFen: 90000 } },
];

async function caseInPublicNotice(): Promise<{ id: string; version: number }> {
  const clerk = await ctx.as('clerk.beishan');
  const { id } = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
  let version = 1;
  const steps: Array<{ user: string; type: string; data: object }> = [{ user: 'clerk.beishan', type: 'ACCEPT', data: {} }, ...CYCLE.slice(1)];
  for (const { user, type, data } of steps) {
    const res = await (await ctx.as(user)).post(`/api/cases/${id}/events`, { type, data, expectedVersion: version });
    expect(res.statusCode, res.body).toBe(200);
    version++;
  }
  return { id, version };
}

const answers: Array<{ what: string; status: number; retryAfter: string | undefined; code?: string }> = [];
function record(what: string, res: LightMyRequestResponse) {
  answers.push({ what, status: res.statusCode, retryAfter: res.headers['retry-after'] as string | undefined, code: res.statusCode >= 400 ? res.json().code : undefined });
  return res;
}

describe('connection cuts under load', () => {
  it('never answers 500: every answer is 2xx, or 409/503 with Retry-After; retried 503s succeed; nothing lost or doubled', async (t) => {
    if (ctx.database.kind !== 'postgres') return t.skip();
    const cases = await Promise.all(Array.from({ length: 6 }, () => caseInPublicNotice()));
    const clients = Object.fromEntries(await Promise.all(['township.beishan', 'verify.xihu', 'supervisor.xihu'].map(async (u) => [u, await ctx.as(u)])));
    const succeeded = new Map<string, number>(cases.map((c) => [c.id, 0]));
    let stop = false;

    // One writer per case (so no two writers race on a case): each command carries its own key
    // and is retried with that key, unchanged, until it is answered 2xx.
    const writer = async (c: { id: string; version: number }, n: number) => {
      for (let i = 0; !stop; i++) {
        const s = CYCLE[i % CYCLE.length];
        const key = `cut-${c.id}-${i}`;
        for (let attempt = 0; ; attempt++) {
          const res = record('command', await ctx.app.inject({
            method: 'POST',
            url: `/api/cases/${c.id}/events`,
            headers: { authorization: `Bearer ${clients[s.user].token}`, 'idempotency-key': key },
            payload: { type: s.type, data: s.data, expectedVersion: c.version },
          }));
          if (res.statusCode === 200) break;
          expect(attempt, `${n}: ${res.body}`).toBeLessThan(50);
          await new Promise((r) => setTimeout(r, 20));
        }
        c.version++;
        succeeded.set(c.id, succeeded.get(c.id)! + 1);
      }
    };
    const reader = async () => {
      while (!stop) {
        const c = cases[Math.floor(Math.random() * cases.length)];
        record('view', await clients['township.beishan'].get(`/api/cases/${c.id}`));
        record('me', await clients['verify.xihu'].get('/api/auth/me'));
        record('inbox', await clients['township.beishan'].get('/api/tasks'));
      }
    };

    const owner = new pg.Client({ connectionString: ctx.database.url });
    await owner.connect();
    const load = Promise.all([...cases.map((c, i) => writer(c, i)), reader(), reader()]);
    let cut = 0;
    try {
      for (; cut < 3; cut++) {
        await new Promise((r) => setTimeout(r, 700));
        const { rowCount } = await owner.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
        );
        expect(rowCount).toBeGreaterThan(0);
      }
      await new Promise((r) => setTimeout(r, 700));
    } finally {
      stop = true;
      await load;
      await owner.end();
    }

    expect(answers.length).toBeGreaterThan(50);
    const refused = answers.filter((a) => a.status >= 300);
    expect(answers.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([]);
    for (const a of refused) {
      expect([409, 503], JSON.stringify(a)).toContain(a.status);
      expect(Number(a.retryAfter), JSON.stringify(a)).toBeGreaterThan(0);
    }
    console.log(`connection cuts: ${answers.length} answers, ${refused.length} refused (${[...new Set(refused.map((a) => `${a.status} ${a.code}`))].join(', ') || 'none'})`);

    // Consistent afterwards: each case moved exactly once per command answered 200, its version
    // matches its event log, its hash chain verifies, and nothing was written twice.
    const { db } = ctx.database;
    const supervisor = clients['supervisor.xihu'];
    for (const c of cases) {
      const row = await db('cases').where({ id: c.id }).first();
      const [{ n }] = await db('case_events').where({ case_id: c.id }).count({ n: '*' });
      expect(row.version).toBe(Number(n));
      expect(row.version).toBe(5 + succeeded.get(c.id)!);
      const audit = (await supervisor.get(`/api/cases/${c.id}/audit/verify`)).json();
      expect(audit).toMatchObject({ valid: true, events: row.version });
      const live = await db('tasks').where({ case_id: c.id }).whereIn('status', ['open', 'claimed']);
      expect(new Set(live.map((l: any) => l.state_id)).size).toBe(live.length);
    }
    const dupEvents = await db('case_events').select('case_id', 'seq').groupBy('case_id', 'seq').havingRaw('count(*) > 1');
    expect(dupEvents).toEqual([]);
    const dupPayments = await db('payments').select('case_id', 'period').groupBy('case_id', 'period').havingRaw('count(*) > 1');
    expect(dupPayments).toEqual([]);
    expect([...succeeded.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(cases.length);
  }, 60_000);
});
