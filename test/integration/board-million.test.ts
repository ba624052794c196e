import { beforeAll, describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';
import { overdueDueAfter } from '../../src/db/tasks.ts';

// Issue 11, goal 2 (docs/benchmarks.md "Inbox and board at a million"): the board's cases per day
// keep the settled days in board_daily_cases (migration 017) and count only today and yesterday
// live; the overdue (黄牌) counts and lists walk a due-date range bounded by the largest red delay.
const ctx = useTestApp();
const DAY = 86_400_000;

async function openAccepted(): Promise<string> {
  const clerk = await ctx.as('clerk.beishan');
  const created = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
  expect(created.statusCode, created.body).toBe(201);
  const { id } = created.json();
  expect((await clerk.post(`/api/cases/${id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 })).statusCode).toBe(200);
  return id;
}

const board = async () => {
  const res = await (await ctx.as('supervisor.xihu')).get('/api/supervision');
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const dayOf = (b: any, day: string) => b.daily.find((d: any) => d.day === day);

beforeAll(async () => {
  ctx.clock.current = new Date('2026-03-02T01:30:00Z'); // 03-02 in China time
  await openAccepted();
  const withdrawn = await openAccepted();
  const res = await (await ctx.as('clerk.beishan')).post(`/api/cases/${withdrawn}/events`, { type: 'WITHDRAW', data: { reason: '申请人主动撤回' }, expectedVersion: 2 });
  expect(res.statusCode, res.body).toBe(200);
});

describe('the board at a million', () => {
  it('counts today and yesterday live and keeps the days before, once counted, for the region scope', async () => {
    const { db } = ctx.database;
    // Today and the next day: still live, nothing kept.
    expect(dayOf(await board(), '2026-03-02')).toEqual({ day: '2026-03-02', opened: 2, closed: 1 });
    ctx.clock.advance(DAY);
    expect(dayOf(await board(), '2026-03-02')).toEqual({ day: '2026-03-02', opened: 2, closed: 1 });
    expect(await db('board_daily_cases').where({ day: '2026-03-02' })).toHaveLength(0);

    // Two days on, 03-02 is settled: counted once and kept (every settled day of the window, zeros too).
    ctx.clock.advance(DAY);
    await openAccepted(); // today, 03-04: live
    let b = await board();
    expect(dayOf(b, '2026-03-02')).toEqual({ day: '2026-03-02', opened: 2, closed: 1 });
    expect(dayOf(b, '2026-03-04')).toEqual({ day: '2026-03-04', opened: 1, closed: 0 });
    // The window is 02-03 … 03-04; its settled days 02-03 … 03-02 (earlier requests kept earlier days).
    const kept = await db('board_daily_cases').where({ region_prefix: '330106' }).andWhere('day', '>=', '2026-02-03').select(db.raw(`to_char(day, 'YYYY-MM-DD') as day`), 'opened', 'closed');
    expect(kept).toHaveLength(28);
    expect(kept.find((r: any) => r.day === '2026-03-02')).toMatchObject({ opened: 2, closed: 1 });

    // The next request reads the kept row, not the cases (shown by changing it as the owner).
    await ctx.database.asOwner((owner) => owner('board_daily_cases').where({ region_prefix: '330106', day: '2026-03-02' }).update({ opened: 7 }));
    b = await board();
    expect(dayOf(b, '2026-03-02').opened).toBe(7);
    await ctx.database.asOwner((owner) => owner('board_daily_cases').where({ region_prefix: '330106', day: '2026-03-02' }).update({ opened: 2 }));

    // Another scope keeps its own rows: a township supervisor's numbers are the township's.
    const supervisor = await ctx.newUser({ username: 'supervisor.xixi2', displayName: '西溪街道督办', regionCode: '330106002', department: 'township-civil-affairs', roles: ['supervisor'] });
    const township = (await supervisor.get('/api/supervision')).json();
    expect(dayOf(township, '2026-03-02')).toEqual({ day: '2026-03-02', opened: 0, closed: 0 });
    expect(await db('board_daily_cases').where({ region_prefix: '330106002' })).toHaveLength(28);
  });

  it('bounds the overdue range by the largest red delay, exactly: the lists and counts match a plain filter', async () => {
    const { db } = ctx.database;
    const now = ctx.clock.now();
    const live = await db('tasks').whereIn('status', ['open', 'claimed']).orderBy('id');
    expect(live.length).toBeGreaterThanOrEqual(3);
    // Overdue tasks with red delays of 1, 3 and 20 days; the longest sets the bound.
    const delays = [1, 3, 20];
    for (const [i, t] of live.slice(0, 3).entries()) {
      const due = new Date(now.getTime() - (delays[i] - 0.5) * DAY);
      await db('tasks').where({ id: t.id }).update({ due_at: due, red_at: new Date(due.getTime() + delays[i] * DAY) });
    }
    const bound = await overdueDueAfter(db, now);
    expect(bound?.getTime()).toBeLessThanOrEqual(now.getTime() - 20 * DAY);
    expect(bound?.getTime()).toBeGreaterThan(now.getTime() - 20 * DAY - 1000);
    const plain = async () =>
      (await db('tasks').whereIn('status', ['open', 'claimed']).andWhere('due_at', '<=', now).andWhere((w) => w.whereNull('red_at').orWhere('red_at', '>', now)).orderBy([{ column: 'due_at' }, { column: 'id' }]).select('id')).map(
        (r: any) => r.id,
      );
    const listed = async () => {
      const res = await (await ctx.as('supervisor.xihu')).get('/api/supervision/tasks?bucket=overdue&pageSize=200');
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    };
    let page = await listed();
    expect(page.items.map((t: any) => t.id)).toEqual(await plain());
    expect(page.total).toBe(3);
    expect((await board()).counts.total.overdue).toBe(3);

    // A dated task without a red date is overdue for good: no bound, and it is listed.
    await db('tasks').where({ id: live[0].id }).update({ due_at: new Date(now.getTime() - 400 * DAY), red_at: null });
    expect(await overdueDueAfter(db, now)).toBeUndefined();
    page = await listed();
    expect(page.items.map((t: any) => t.id)).toEqual(await plain());
    expect(page.items[0].id).toBe(live[0].id);
    expect((await board()).counts.total.overdue).toBe(3);

    // No dated live task at all: nothing is overdue.
    await db('tasks').whereIn('status', ['open', 'claimed']).update({ due_at: null, red_at: null });
    expect((await overdueDueAfter(db, now))?.getTime()).toBe(now.getTime());
    expect((await listed()).items).toEqual([]);
  });
});
