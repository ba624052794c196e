import { beforeAll, describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';
import { wholeScanOffenders, type Captured } from '../support/plans.ts';
import { BUCKETS, boardCells } from '../../src/engine/queries/board.ts';
import { boardCounts } from '../../src/db/tasks.ts';

// Issue 11, goal 2: the read side at a million (docs/benchmarks.md). Keyset pages are index ranges
// (`(due_at, id) > (…)`, then the undated tail) — walked here across the dated/undated boundary —
// and every statement of the inbox (each filter, both sorts, cursor pages), the board, its lists,
// a case page and tracking uses an index its predicate matches (test/support/plans.ts).
const ctx = useTestApp();
const SKIP = /^\s*(begin|commit|rollback|savepoint|release|set |select set_config|reset )/i;
const caseIds: string[] = [];
let tracked: { reference: string; trackingCode: string };

beforeAll(async () => {
  const clerk = await ctx.as('clerk.beishan');
  for (let i = 0; i < 7; i++) {
    const created = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
    expect(created.statusCode, created.body).toBe(201);
    tracked ??= created.json();
    const { id } = created.json();
    expect((await clerk.post(`/api/cases/${id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 })).statusCode).toBe(200);
    caseIds.push(id);
    ctx.clock.advance(3_600_000);
  }
  // Some tasks without a due date (they sort last) and two sharing one (the id breaks the tie).
  const { db } = ctx.database;
  const live = await db('tasks').whereIn('case_id', caseIds).whereIn('status', ['open', 'claimed']).where({ department: 'county-verification' }).orderBy('opened_at');
  for (const [i, t] of live.entries()) await db('tasks').where({ id: t.id }).update({ due_at: new Date(ctx.clock.now().getTime() + (i + 1) * 86_400_000) });
  await db('tasks').whereIn('id', [live[1].id, live[4].id]).update({ due_at: null });
  await db('tasks').where({ id: live[3].id }).update({ due_at: new Date(ctx.clock.now().getTime() + 3 * 86_400_000) });
});

async function walk(user: string, query: string, pageSize: number): Promise<string[]> {
  const c = await ctx.as(user);
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const res = await c.get(`${query}${query.includes('?') ? '&' : '?'}pageSize=${pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.statusCode, res.body).toBe(200);
    ids.push(...res.json().items.map((t: any) => t.id));
    cursor = res.json().nextCursor;
    if (!cursor) break;
  }
  return ids;
}

describe('queries at scale', () => {
  it('pages by cursor across tasks with and without a due date, each task once, in the order of one page', async () => {
    for (const [user, url] of [['verify.xihu', '/api/tasks'], ['verify.xihu', '/api/tasks?sort=opened'], ['supervisor.xihu', '/api/supervision/tasks?bucket=open']] as const) {
      const whole = (await (await ctx.as(user)).get(`${url}${url.includes('?') ? '&' : '?'}pageSize=200`)).json().items.map((t: any) => t.id);
      expect(whole.length).toBeGreaterThanOrEqual(7);
      for (const size of [1, 2, 3]) expect(await walk(user, url, size), `${url} by ${size}`).toEqual(whole);
    }
    // Not overdue (due after now, or undated) is the same two ranges from (now, …): with some overdue, paged and by page number.
    const all = (await (await ctx.as('verify.xihu')).get('/api/tasks?pageSize=200')).json().items;
    const saved = ctx.clock.current;
    ctx.clock.current = new Date(all.filter((t: any) => t.dueAt)[2].dueAt); // the third due date: it and the earlier ones overdue
    const now = ctx.clock.now().toISOString();
    const notOverdue = all.filter((t: any) => t.dueAt === null || t.dueAt > now).map((t: any) => t.id);
    expect(notOverdue.length).toBeLessThan(all.length);
    expect(notOverdue.length).toBeGreaterThan(2);
    for (const size of [1, 2]) expect(await walk('verify.xihu', '/api/tasks?overdue=false', size)).toEqual(notOverdue);
    expect((await (await ctx.as('verify.xihu')).get('/api/tasks?overdue=false&pageSize=1&page=2')).json().items.map((t: any) => t.id)).toEqual(notOverdue.slice(1, 2));
    ctx.clock.current = saved;
    const dues = (await (await ctx.as('verify.xihu')).get('/api/tasks?pageSize=200')).json().items.map((t: any) => t.dueAt ?? null);
    expect(dues).toContain(null);
    expect(dues.indexOf(null)).toBeGreaterThan(dues.findLastIndex((d: string | null) => d !== null));
  });

  it('counts the board per department and procedure up to the cap past the exact limit, marking the numbers that stopped', async () => {
    const { db } = ctx.database;
    const now = ctx.clock.now();
    const soon = new Date(now.getTime() + 3 * 86_400_000);
    ctx.clock.advance(12 * 86_400_000); // some tasks overdue
    const later = ctx.clock.now();
    const compare = async (at: Date) => {
      const exact = await boardCells(db, '330106', at, soon, { exactBelow: 1e9, cap: 10_000 });
      const capped = await boardCells(db, '330106', at, soon, { exactBelow: 0, cap: 3 });
      expect(capped.map((c) => `${c.department}/${c.procedure_id}`)).toEqual(exact.map((c) => `${c.department}/${c.procedure_id}`));
      expect(exact.every((c) => c.capped.length === 0)).toBe(true);
      for (const [i, c] of capped.entries()) {
        for (const b of BUCKETS) {
          expect(c[b], `${c.department} ${b}`).toBe(Math.min(exact[i][b], 3));
          expect(c.capped.includes(b), `${c.department} ${b}`).toBe(exact[i][b] >= 3);
        }
      }
      expect(capped.some((c) => c.capped.includes('open'))).toBe(true);
      // Counted the capped way with a cap none reaches: the numbers of a plain count. (boardCells'
      // exact limit takes the capped answer where nothing is capped, so compare with the plain count.)
      const plain = (await boardCounts(db, '330106', at, soon)).map((r) => ({ department: r.department, procedure_id: r.procedure_id, open: Number(r.open), dueSoon: Number(r.due_soon), overdue: Number(r.overdue), red: Number(r.red), capped: [] }));
      expect(await boardCells(db, '330106', at, soon, { exactBelow: 0, cap: 10_000 })).toEqual(plain);
    };
    for (const at of [now, later]) await compare(at);
    // The capped `open` is red + overdue + dueSoon + the rest; a task red before it is due (a direct
    // edit: deadlines.ts never makes one) is in red and dueSoon both, and must be counted once.
    const task = await db('tasks').whereIn('status', ['open', 'claimed']).whereNotNull('due_at').orderBy('id').first();
    await db('tasks').where({ id: task.id }).update({ due_at: new Date(now.getTime() + 86_400_000), red_at: new Date(now.getTime() - 86_400_000) });
    await compare(now);
  });

  it('uses an index its predicate matches in every statement of the inbox, the board, its lists, a case page and tracking', async () => {
    const { db } = ctx.database;
    const captured: Captured[] = [];
    const listener = (q: { sql: string; bindings?: unknown[] }) => captured.push({ sql: q.sql, bindings: q.bindings ?? [] });
    db.on('query', listener);
    try {
      const reviewer = await ctx.as('verify.xihu');
      const first = (await reviewer.get('/api/tasks?pageSize=2')).json();
      for (const q of ['', '?status=claimed', '?status=completed', '?escalation=red', '?overdue=true', '?overdue=false', '?procedure=social-assistance', '?sort=opened', `?pageSize=2&cursor=${encodeURIComponent(first.nextCursor)}`]) {
        expect((await reviewer.get(`/api/tasks${q}`)).statusCode, q).toBe(200);
      }
      await walk('verify.xihu', '/api/tasks?sort=opened', 3);
      await walk('verify.xihu', '/api/tasks', 3);
      expect((await (await ctx.as('township.beishan')).get('/api/tasks')).statusCode).toBe(200);
      const supervisor = await ctx.as('supervisor.xihu');
      for (const url of ['/api/supervision', '/api/supervision/tasks?bucket=overdue', '/api/supervision/tasks?bucket=dueSoon&department=county-verification', '/api/supervision/tasks?bucket=red&procedure=social-assistance', `/api/cases/${caseIds[0]}`]) {
        expect((await supervisor.get(url)).statusCode, url).toBe(200);
      }
      await walk('supervisor.xihu', '/api/supervision/tasks?bucket=open&department=county-verification', 3);
      await boardCells(db, '330106', ctx.clock.now(), new Date(ctx.clock.now().getTime() + 86_400_000), { exactBelow: 0, cap: 3 });
      const tracking = await ctx.app.inject({ method: 'GET', url: `/api/track/${tracked.reference}?code=${tracked.trackingCode}` });
      expect(tracking.statusCode, tracking.body).toBe(200);
    } finally {
      db.off('query', listener);
    }
    const statements = new Map<string, Captured>();
    for (const c of captured) if (!SKIP.test(c.sql) && !statements.has(c.sql)) statements.set(c.sql, c);
    expect(statements.size).toBeGreaterThan(15);
    expect(await wholeScanOffenders(db, statements.values())).toEqual([]);
  });
});
