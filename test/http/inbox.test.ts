import { beforeAll, describe, expect, it } from 'vitest';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 8 §3 (server side): the reviewer's inbox — filters, due-date order, counts per filter
// value, keyset pages — and claim / release.
const ctx = useTestApp();
const DAY = 86_400_000;
const caseIds: string[] = [];

async function openAccepted(): Promise<string> {
  const clerk = await ctx.as('clerk.beishan');
  const created = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
  expect(created.statusCode, created.body).toBe(201);
  const { id } = created.json();
  const accepted = await clerk.post(`/api/cases/${id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  expect(accepted.statusCode, accepted.body).toBe(200);
  return id;
}

const inbox = async (user: string, query = '') => {
  const res = await (await ctx.as(user)).get(`/api/tasks${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const mine = (page: any) => page.items.filter((t: any) => caseIds.includes(t.caseId));
const countOf = (list: any[], value: string) => list.find((c: any) => c.value === value)?.count;

beforeAll(async () => {
  // Three cases a day apart in March (due dates in March), two in late December, whose 10-working-day
  // limits run into 2027, a year whose holidays are not loaded: those tasks have provisional due dates.
  ctx.clock.current = new Date('2026-03-02T01:30:00Z');
  for (let i = 0; i < 3; i++) {
    caseIds.push(await openAccepted());
    ctx.clock.advance(DAY);
  }
  // A day apart too: two due dates on one day would tie, and ties go by task id (random).
  ctx.clock.current = new Date('2026-12-28T02:00:00Z');
  for (let i = 0; i < 2; i++) {
    caseIds.push(await openAccepted());
    ctx.clock.advance(DAY);
  }
});

describe('the inbox', () => {
  it('sorts by due date (provisional ones as dated), then id; only the caller’s department and region', async () => {
    const page = await inbox('verify.xihu', '?pageSize=200');
    const items = mine(page);
    expect(items).toHaveLength(5);
    expect(items.every((t: any) => t.department === 'county-verification')).toBe(true);
    const dated = items.slice(0, 3);
    expect(dated.map((t: any) => t.caseId)).toEqual(caseIds.slice(0, 3));
    expect(dated.every((t: any) => t.dueAt !== null)).toBe(true);
    expect(items.slice(3).every((t: any) => t.dueAt.startsWith('2027-') && t.deadlineNote === null && t.deadlineProvisional === true)).toBe(true);
    expect(items.slice(3).map((t: any) => t.caseId)).toEqual(caseIds.slice(3));
    expect(items[4].deadlineText).toMatch(/^预计 2027年1月\d+日前（以国务院公布的节假日安排为准）$/);
    expect(dated.every((t: any) => t.deadlineProvisional === false)).toBe(true);
    expect(items[0].deadlineText).toMatch(/^2026年3月\d+日前$/);

    // Need to know: another department and another township see none of these tasks.
    expect(mine(await inbox('medical.xihu', '?pageSize=200'))).toEqual([]);
    expect(mine(await inbox('township.xixi', '?pageSize=200'))).toEqual([]);
    expect(mine(await inbox('township.beishan', '?pageSize=200'))).toHaveLength(5);
    // The old order stays available.
    const opened = mine(await inbox('verify.xihu', '?pageSize=200&sort=opened'));
    expect(opened.map((t: any) => t.caseId)).toEqual(caseIds);
  });

  it('pages by cursor through every task once, in order, and agrees with page numbers', async () => {
    const all = (await inbox('verify.xihu', '?pageSize=200')).items.map((t: any) => t.id);
    const walked: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await inbox('verify.xihu', `?pageSize=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      walked.push(...page.items.map((t: any) => t.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(walked).toEqual(all);
    expect(pages).toBe(all.length);

    const second = await inbox('verify.xihu', '?pageSize=2&page=2');
    expect(second.items.map((t: any) => t.id)).toEqual(all.slice(2, 4));
    const first = await inbox('verify.xihu', '?pageSize=2');
    const viaCursor = await inbox('verify.xihu', `?pageSize=2&cursor=${encodeURIComponent(first.nextCursor)}`);
    expect(viaCursor.items.map((t: any) => t.id)).toEqual(all.slice(2, 4));

    for (const bad of ['not-a-cursor', Buffer.from('["opened","2026-03-02T01:30:00.000Z","00000000-0000-0000-0000-000000000000"]').toString('base64url')]) {
      const res = await (await ctx.as('verify.xihu')).get(`/api/tasks?cursor=${bad}`);
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'querystring.cursor' }] });
    }
  });

  it('filters by overdue, escalation, status and procedure, with counts per value that apply the other filters', async () => {
    // Now is 2026-12-28: the March tasks are long overdue, the December ones have no due date.
    const overdue = await inbox('verify.xihu', '?overdue=true&pageSize=200');
    expect(mine(overdue).map((t: any) => t.caseId)).toEqual(caseIds.slice(0, 3));
    expect(mine(await inbox('verify.xihu', '?overdue=false&pageSize=200')).map((t: any) => t.caseId).sort()).toEqual(caseIds.slice(3).sort());

    // Until the timers fire, nothing is escalated; then the March tasks turn red.
    let page = await inbox('verify.xihu');
    expect(countOf(page.counts.escalation, 'red')).toBe(0);
    const worker = new TimerWorker({ db: ctx.database.db, engine: ctx.engine });
    for (let i = 0; i < 20 && (await worker.runOnce()).claimed > 0; i++);
    page = await inbox('verify.xihu');
    expect(page.counts.escalation).toEqual([
      { value: 'none', label: '正常', count: 2, exact: true },
      { value: 'warned', label: '预警（黄灯）', count: 0, exact: true },
      { value: 'overdue', label: '超期（黄牌）', count: 0, exact: true },
      { value: 'red', label: '红牌督办', count: 3, exact: true },
    ]);
    expect(page.counts.overdue).toMatchObject({ value: 'true', count: 3, exact: true });
    expect(page).toMatchObject({ total: 5, totalExact: true, countCap: 10000 });
    const red = await inbox('verify.xihu', '?escalation=red&pageSize=200');
    expect(mine(red).map((t: any) => t.escalation)).toEqual(['red', 'red', 'red']);
    expect(red.total).toBe(3);
    // The escalation facet ignores its own filter; the others apply it.
    expect(countOf(red.counts.escalation, 'none')).toBe(2);
    expect(countOf(red.counts.procedure, 'social-assistance')).toBe(3);
    expect(countOf(red.counts.status, 'open')).toBe(3);

    // Claiming moves a task from open to claimed in the status counts.
    const verify = await ctx.as('verify.xihu');
    const target = mine(page)[0];
    expect((await verify.post(`/api/tasks/${target.id}/claim`)).statusCode).toBe(204);
    const claimed = await inbox('verify.xihu', '?status=claimed');
    expect(claimed.items.map((t: any) => t.id)).toEqual([target.id]);
    // Each row says what a person reads in the table: procedure, stage and who holds it.
    expect(claimed.items[0]).toMatchObject({ procedureName: '最低生活保障（低保）申请', stage: '家庭经济状况核对中', assigneeName: expect.stringMatching(/\S/) });
    expect(mine(await inbox('verify.xihu', '?status=open'))[0].assigneeName).toBeNull();
    expect(claimed.counts.status).toEqual([
      { value: 'open', label: '待认领', count: 4, exact: true },
      { value: 'claimed', label: '已认领', count: 1, exact: true },
    ]);
    // The department's procedures are counted; a filter to another one empties the page.
    expect(page.counts.procedure.map((c: any) => c.value)).toContain('social-assistance');
    expect((await inbox('verify.xihu', '?procedure=funeral')).items).toEqual([]);
    expect((await verify.post(`/api/tasks/${target.id}/unclaim`)).statusCode).toBe(204);
  });
});

describe('claim and release', () => {
  it('lets the assignee or a supervisor of the region release a claim; anyone else is refused', async () => {
    const created = await ctx.newUser({ username: 'township.beishan2', displayName: '北山街道社会救助 刘洋', regionCode: '330106001', department: 'township-civil-affairs', roles: ['reviewer'] });
    const colleague = { authorization: `Bearer ${created.token}` };

    const township = await ctx.as('township.beishan');
    const task = mine(await inbox('township.beishan', '?pageSize=200'))[0];
    const taskUrl = `/api/tasks/${task.id}`;
    const status = async () => (await inbox('township.beishan', '?pageSize=200')).items.find((t: any) => t.id === task.id);

    // Nobody holds it: nothing to release.
    const unclaimed = await township.post(`${taskUrl}/unclaim`);
    expect(unclaimed.statusCode).toBe(409);
    expect(unclaimed.json().code).toBe('TASK_NOT_CLAIMED');

    expect((await township.post(`${taskUrl}/claim`)).statusCode).toBe(204);
    expect(await status()).toMatchObject({ status: 'claimed', assigneeId: expect.any(String) });
    // A colleague of the same department may not release someone else's claim.
    const other = await ctx.app.inject({ method: 'POST', url: `${taskUrl}/unclaim`, headers: colleague });
    expect(other.statusCode).toBe(409);
    expect(other.json().code).toBe('TASK_CLAIMED_BY_OTHER');
    // Another department that sees the case (it has a task on it) may not touch the task.
    const verify = await (await ctx.as('verify.xihu')).post(`${taskUrl}/unclaim`);
    expect(verify.statusCode).toBe(403);
    expect(verify.json().code).toBe('NOT_YOUR_DEPARTMENT');
    // Another township does not see it at all.
    expect((await (await ctx.as('township.xixi')).post(`${taskUrl}/unclaim`)).statusCode).toBe(404);
    expect((await status()).status).toBe('claimed');

    // The supervisor of the region releases it.
    expect((await (await ctx.as('supervisor.xihu')).post(`${taskUrl}/unclaim`)).statusCode).toBe(204);
    expect(await status()).toMatchObject({ status: 'open', assigneeId: null });

    // The assignee releases their own claim; with an Idempotency-Key a retry is replayed, not refused.
    expect((await township.post(`${taskUrl}/claim`)).statusCode).toBe(204);
    const send = () => ctx.app.inject({ method: 'POST', url: `${taskUrl}/unclaim`, headers: { authorization: `Bearer ${township.token}`, 'idempotency-key': 'release-1' } });
    const first = await send();
    expect(first.statusCode).toBe(204);
    const again = await send();
    expect(again.statusCode).toBe(204);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await status()).toMatchObject({ status: 'open', assigneeId: null });
    // The colleague can now claim it.
    expect((await ctx.app.inject({ method: 'POST', url: `${taskUrl}/claim`, headers: colleague })).statusCode).toBe(204);
    expect((await ctx.app.inject({ method: 'POST', url: `${taskUrl}/unclaim`, headers: colleague })).statusCode).toBe(204);

    // A finished task cannot be released.
    const done = await township.post(`${taskUrl}/complete`, { outcome: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '家庭情况属实' } });
    expect(done.statusCode, done.body).toBe(200);
    const closed = await township.post(`${taskUrl}/unclaim`);
    expect(closed.statusCode).toBe(409);
    expect(closed.json().code).toBe('TASK_NOT_OPEN');
  });
});
