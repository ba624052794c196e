import { beforeAll, describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 8 §4 (server side): the supervision board — counts by department and procedure of open
// tasks, due within 2 working days, overdue (黄牌), red (红牌), each with the list behind it —
// and cases opened and closed per day, for the supervisor's region and below.
const ctx = useTestApp();
const BUCKETS = ['open', 'dueSoon', 'overdue', 'red'] as const;

async function openAccepted(clerkName = 'clerk.beishan'): Promise<string> {
  const clerk = await ctx.as(clerkName);
  const created = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
  expect(created.statusCode, created.body).toBe(201);
  const { id } = created.json();
  expect((await clerk.post(`/api/cases/${id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 })).statusCode).toBe(200);
  return id;
}

const board = async (user = 'supervisor.xihu') => {
  const res = await (await ctx.as(user)).get('/api/supervision');
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};

/** Every number of the board equals the total of the list its URL names, and the list holds that many tasks. */
async function expectListsMatch(b: any, user = 'supervisor.xihu') {
  const client = await ctx.as(user);
  const rows = [b.counts.total, ...b.counts.byDepartment, ...b.counts.byProcedure];
  for (const row of rows) {
    for (const bucket of BUCKETS) {
      const res = await client.get(`${row.tasks[bucket]}&pageSize=200`);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json();
      expect(page.total, `${row.tasks[bucket]}`).toBe(row[bucket]);
      expect(page.items).toHaveLength(row[bucket]);
      if (row.department) expect(page.items.every((t: any) => t.department === row.department)).toBe(true);
      if (row.procedureId) expect(page.items.every((t: any) => t.procedureId === row.procedureId)).toBe(true);
      // Each task says which bucket it is in, by the counts' own definitions.
      if (bucket !== 'open') expect(page.items.map((t: any) => t.level)).toEqual(page.items.map(() => bucket));
      else expect(page.items.filter((t: any) => t.level !== null)).toHaveLength(row.dueSoon + row.overdue + row.red);
    }
  }
}

const at = (iso: string) => {
  ctx.clock.current = new Date(iso);
};

beforeAll(async () => {
  at('2026-03-02T01:30:00Z'); // a Monday; the verification task (10 working days) is due at the end of 03-16
  for (let i = 0; i < 3; i++) await openAccepted();
  const withdrawn = await openAccepted();
  const res = await (await ctx.as('clerk.beishan')).post(`/api/cases/${withdrawn}/events`, { type: 'WITHDRAW', data: { reason: '申请人主动撤回' }, expectedVersion: 2 });
  expect(res.statusCode, res.body).toBe(200);
});

describe('the supervision board', () => {
  it('counts open tasks by department and procedure, and cases opened and closed per day', async () => {
    const b = await board();
    expect(b.counts.total).toMatchObject({ open: 6, dueSoon: 0, overdue: 0, red: 0 });
    expect(b.counts.byDepartment.map((d: any) => [d.department, d.open])).toEqual([
      ['county-verification', 3],
      ['township-civil-affairs', 3],
    ]);
    expect(b.counts.byProcedure).toEqual([expect.objectContaining({ procedureId: 'social-assistance', procedureName: expect.stringContaining('最低生活保障'), open: 6 })]);
    expect(b.daily).toHaveLength(30);
    expect(b.daily.at(-1)).toEqual({ day: '2026-03-02', opened: 4, closed: 1 });
    expect(b.daily.slice(0, -1).every((d: any) => d.opened === 0 && d.closed === 0)).toBe(true);
    await expectListsMatch(b);
  });

  it('moves tasks to due soon, overdue (黄牌) and red (红牌) as time passes, each number matching its list', async () => {
    at('2026-03-13T02:00:00Z'); // Friday: 03-16 is within 2 working days
    let b = await board();
    const verification = () => b.counts.byDepartment.find((d: any) => d.department === 'county-verification');
    expect(verification()).toMatchObject({ open: 3, dueSoon: 3, overdue: 0, red: 0 });
    await expectListsMatch(b);

    at('2026-03-17T02:00:00Z'); // the day after the due date
    b = await board();
    expect(verification()).toMatchObject({ open: 3, dueSoon: 0, overdue: 3, red: 0 });
    await expectListsMatch(b);
    // The earlier board's totals: overdue and red are these counts (no timer worker runs here, so
    // nothing is recorded as warned, and its list by recorded level is empty).
    expect(b.totals).toEqual({ warned: 0, overdue: b.counts.total.overdue, red: b.counts.total.red });
    expect(b.totals.overdue).toBeGreaterThanOrEqual(3);
    expect(b.departments).toEqual([]);

    at('2026-03-20T02:00:00Z'); // more than 3 working days late
    b = await board();
    expect(verification()).toMatchObject({ open: 3, dueSoon: 0, overdue: 0, red: 3 });
    expect(b.counts.total.red).toBeGreaterThanOrEqual(3);
    expect(b.totals).toEqual({ warned: 0, overdue: b.counts.total.overdue, red: b.counts.total.red });
    await expectListsMatch(b);
    // The window follows the clock: 03-02 is still among the last 30 days.
    expect(b.daily.at(-1).day).toBe('2026-03-20');
    expect(b.daily.find((d: any) => d.day === '2026-03-02')).toEqual({ day: '2026-03-02', opened: 4, closed: 1 });
  });

  it('pages the list behind a number by cursor', async () => {
    const client = await ctx.as('supervisor.xihu');
    const all = (await client.get('/api/supervision/tasks?bucket=open&pageSize=200')).json();
    const walked: string[] = [];
    let url: string | null = '/api/supervision/tasks?bucket=open&pageSize=4';
    while (url) {
      const page: any = (await client.get(url)).json();
      walked.push(...page.items.map((t: any) => t.id));
      url = page.nextCursor ? `/api/supervision/tasks?bucket=open&pageSize=4&cursor=${encodeURIComponent(page.nextCursor)}` : null;
    }
    expect(walked).toEqual(all.items.map((t: any) => t.id));
    expect(walked).toHaveLength(6);
  });

  it('shows a supervisor their region and below only, and refuses other roles', async () => {
    await openAccepted('clerk.xixi');
    const created = await ctx.newUser({ username: 'supervisor.xixi', displayName: '西溪街道督办 黄蕾', regionCode: '330106002', department: 'township-civil-affairs', roles: ['supervisor'] });
    const headers = { authorization: `Bearer ${created.token}` };
    const township = (await ctx.app.inject({ method: 'GET', url: '/api/supervision', headers })).json();
    expect(township.regionCode).toBe('330106002');
    // Named as people read it, not only by its code (the board's heading shows it).
    expect(township.regionName).toBe('西溪街道（演示，审核确认委托街道）');
    expect(township.counts.total.open).toBe(2);
    expect(township.daily.at(-1)).toMatchObject({ opened: 1, closed: 0 });
    const list = (await ctx.app.inject({ method: 'GET', url: '/api/supervision/tasks?pageSize=200', headers })).json();
    expect(list.items.every((t: any) => t.regionCode === '330106002')).toBe(true);
    expect(list.total).toBe(2);
    expect((await board()).counts.total.open).toBe(8);

    for (const user of ['township.beishan', 'clerk.beishan']) {
      for (const url of ['/api/supervision', '/api/supervision/tasks']) {
        const res = await (await ctx.as(user)).get(url);
        expect(res.statusCode, `${user} ${url}`).toBe(403);
        expect(res.json().code).toBe('ROLE_REQUIRED');
      }
    }
  });
});
