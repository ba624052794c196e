import { beforeEach, describe, expect, it } from 'vitest';
import { chinaDay } from '../../src/engine/calendar.ts';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { upsertRegion } from '../../src/db/regions.ts';
import { upsertUser } from '../../src/db/users.ts';
import { hashPassword } from '../../src/identity.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// Deadlines on the statutory calendar, against a real database, with time moved by hand.
const ctx = useTestApp();
const at = (chinaTime: string) => (ctx.clock.current = new Date(`${chinaTime}+08:00`));
const db = () => ctx.database.db;

/** A timer worker as a fresh process would build it: nothing carried over in memory. */
const runWorker = (id = 'worker-a') => new TimerWorker({ db: db(), engine: ctx.engine, workerId: id }).runOnce();

async function openCase(clerk = 'clerk.beishan', procedureId = 'social-assistance', app: unknown = application) {
  const c = await ctx.as(clerk);
  const res = await c.post('/api/cases', { procedureId, applicant, application: app });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; reference: string; trackingCode: string };
}

async function act(user: string, caseId: string, outcome: string, data: object = {}) {
  const c = await ctx.as(user);
  const view = (await c.get(`/api/cases/${caseId}`)).json();
  const task = view.openTasks.find((t: any) => t.actions.some((a: any) => a.type === outcome));
  expect(task, `${user} has a task for ${outcome}`).toBeTruthy();
  const res = await c.post(`/api/tasks/${task.id}/complete`, { outcome, data });
  expect(res.statusCode, res.body).toBe(200);
  return (await c.get(`/api/cases/${caseId}`)).json();
}

const track = async (c: { reference: string; trackingCode: string }) =>
  (await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}` })).json();

describe('the statutory calendar, loaded from the database', () => {
  it('counts 2026 working days as the State Council set them', async () => {
    const cal = await ctx.engine.calendars.forRegion(db(), '330106001');
    expect(chinaDay(cal.addWorkingDays(new Date('2026-02-10T09:30:00+08:00'), 10))).toBe('2026-03-02');
    expect(chinaDay(cal.addCalendarDays(new Date('2026-09-03T10:00:00+08:00'), 30))).toBe('2026-10-08');
    // 2027's notice is not loaded: its days are provisional (statutory holidays and 补假), and say so.
    expect(cal.trace(() => chinaDay(cal.addWorkingDays(new Date('2027-02-04T10:00:00+08:00'), 1)))).toEqual({ value: '2027-02-11', provisional: true });
    expect(cal.trace(() => chinaDay(cal.addWorkingDays(new Date('2026-03-02T10:00:00+08:00'), 1)))).toEqual({ value: '2026-03-03', provisional: false });
    // Beyond what the provisional calendar covers, still an error rather than a guess.
    expect(() => cal.addWorkingDays(new Date('2099-12-31T10:00:00+08:00'), 1)).toThrow('2100年工作日历尚未加载');
  });

  it('makes a step accepted on 2026-02-10 with a 10-working-day limit due at the end of 2026-03-02', async () => {
    at('2026-02-10T09:30:00');
    const c = await openCase();
    const view = await act('clerk.beishan', c.id, 'ACCEPT');
    const homeVisit = view.openTasks.find((t: any) => t.stateId === 'sa.homeVisit');
    expect(homeVisit.timeLimit).toMatchObject({ days: 10, unit: 'WD' });
    expect(homeVisit.dueAt).toBe('2026-03-02T15:59:59.999Z'); // 23:59:59.999 China time
    expect(homeVisit.remainingWorkingDays).toBe(10);
    expect(homeVisit.escalation).toBe('none');
  });

  it('moves the whole-case due date by the 3 working days a 补正 notice stopped the clock', async () => {
    at('2026-03-02T09:00:00'); // Monday
    const c = await openCase();
    const before = (await (await ctx.as('clerk.beishan')).get(`/api/cases/${c.id}`)).json().deadline;
    expect(before.clockPaused).toBe(false);
    at('2026-03-04T10:00:00'); // Wednesday
    const paused = await act('clerk.beishan', c.id, 'REQUEST_SUPPLEMENT', { missingMaterials: ['income-declaration'] });
    expect(paused.deadline).toMatchObject({ clockPaused: true, dueAt: before.dueAt });
    at('2026-03-09T10:00:00'); // Monday: Thursday, Friday and Monday did not count
    const resumed = await act('clerk.beishan', c.id, 'SUPPLEMENT_RECEIVED');
    expect(resumed.deadline.clockPaused).toBe(false);
    const cal = await ctx.engine.calendars.forRegion(db(), '330106001');
    expect(cal.workingDaysBetween(new Date(before.dueAt), new Date(resumed.deadline.dueAt))).toBe(3);
    expect(resumed.deadline.dueAt).toBe(cal.addWorkingDays(new Date(before.dueAt), 3).toISOString());
    // The citizen sees the same due date and what is left of it.
    expect((await track(c)).deadline).toMatchObject({ dueAt: resumed.deadline.dueAt, clockPaused: false });
  });

  it('marks a deadline computed in a year without a loaded calendar provisional, and not once loaded', async () => {
    at('2026-12-22T10:00:00');
    const c = await openCase();
    let view = await act('clerk.beishan', c.id, 'ACCEPT');
    const task = view.openTasks.find((t: any) => t.stateId === 'sa.homeVisit');
    // 10 working days after Tue 2026-12-22 on the provisional 2027 calendar (元旦 Fri 1 Jan off).
    expect(task).toMatchObject({ dueAt: '2027-01-06T15:59:59.999Z', deadlineNote: null, deadlineProvisional: true, deadlineText: '预计 2027年1月6日前（以国务院公布的节假日安排为准）' });

    const admin = await ctx.as('admin.xihu');
    const load = await ctx.app.inject({
      method: 'PUT',
      url: '/api/admin/calendars/2027',
      headers: { authorization: `Bearer ${admin.token}` },
      payload: { source: '测试用2027年安排', holidays: [{ date: '2027-01-01', name: '元旦' }], workdays: [] },
    });
    expect(load.statusCode, load.body).toBe(200);
    expect(load.json()).toMatchObject({ regionCode: 'CN', year: 2027, days: [{ day: '2027-01-01', kind: 'holiday', name: '元旦' }], recomputeJobId: expect.any(String) });

    const c2 = await openCase();
    view = await act('clerk.beishan', c2.id, 'ACCEPT');
    // 10 working days after Tue 2026-12-22, skipping New Year's Day: Wed 2027-01-06.
    expect(view.openTasks.find((t: any) => t.stateId === 'sa.homeVisit')).toMatchObject({ dueAt: '2027-01-06T15:59:59.999Z', deadlineProvisional: false, deadlineText: '2027年1月6日前' });
  });

  it('validates calendar loads and keeps them to administrators', async () => {
    const admin = await ctx.as('admin.xihu');
    const put = (token: string, payload: object) =>
      ctx.app.inject({ method: 'PUT', url: '/api/admin/calendars/2028', headers: { authorization: `Bearer ${token}` }, payload });
    const bad = await put(admin.token, { source: '测试', holidays: [{ date: '2029-01-01', name: '元旦' }], workdays: [{ date: '2028-01-05', name: '周三' }] });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().details.map((d: any) => d.path).sort()).toEqual(['holidays.0.date', 'workdays.0.date']);
    const clerk = await ctx.as('clerk.beishan');
    expect((await put(clerk.token, { source: '测试', holidays: [], workdays: [] })).statusCode).toBe(403);
    expect((await admin.get('/api/admin/calendars/2031')).statusCode).toBe(404);
    expect((await admin.get('/api/admin/calendars/2026')).json().days).toHaveLength(39);
  });
});

describe('durable timers fired by the worker', () => {
  // Cases from earlier tests in this file have timers too; each test here watches only its own.
  beforeEach(async () => {
    await db()('timers').where({ status: 'pending' }).update({ status: 'cancelled' });
    await db()('tasks').whereIn('status', ['open', 'claimed']).update({ status: 'cancelled' });
  });

  it('ends a divorce by timer when the parties do not appear in the 30-day window', async () => {
    at('2026-03-02T10:00:00');
    const c = await openCase('registry.xihu', 'marriage', { kind: 'divorce', partner: { name: '王芳', idNumber: '11010519491231002X' } });
    await act('registry.xihu', c.id, 'ACCEPT');
    expect((await track(c)).stage).toBe('离婚冷静期（30日）');

    at('2026-03-31T10:00:00');
    expect((await runWorker()).claimed).toBe(0); // the 冷静期 is not over

    at('2026-04-02T09:00:00'); // the service was down over the due time; the timer fires once now
    expect(await runWorker()).toMatchObject({ claimed: 1, fired: 1 });
    expect((await track(c)).stage).toBe('待双方亲自到场申请发证（30日内）');
    expect(await runWorker('worker-b')).toMatchObject({ claimed: 0 });

    // The window closes at the end of 2026-05-06: 30 days end on 05-02, inside the May Day holiday.
    at('2026-05-07T09:00:00'); // nobody came
    expect(await runWorker('worker-c')).toMatchObject({ claimed: 2, fired: 2 });
    const view = (await (await ctx.as('registry.xihu')).get(`/api/cases/${c.id}`)).json();
    expect(view.status).toBe('done');
    expect(view.history.slice(-3).map((h: any) => [h.type, h.actor])).toEqual([
      ['COOLING_OFF_ENDED', '系统（时限引擎）'],
      ['DEADLINE_WARNING', '系统（时限引擎）'],
      ['APPEARANCE_WINDOW_EXPIRED', '系统（时限引擎）'],
    ]);
    const citizen = await track(c);
    expect(citizen.stage).toBe('期满未到场，视为撤回离婚登记申请');
    expect(citizen.timeline.map((t: any) => t.step)).toContain('到场期限届满未到场（视为撤回）');
    // The red-card timer died with the task: nothing is left to fire but the rating invitation (docs/ratings.md).
    expect(await db()('timers').where({ case_id: c.id, status: 'pending' }).select('kind')).toEqual([{ kind: 'invite' }]);
  });

  it('counts a calendar-day case clock past its pause before moving it off a day off (民法典 art. 203)', async () => {
    at('2026-06-01T10:00:00');
    const c = await openCase('registry.xihu', 'marriage', { kind: 'divorce', partner: { name: '王芳', idNumber: '11010519491231002X' } });
    const registry = await ctx.as('registry.xihu');
    // 90 days from 06-01 end on Sunday 08-30: the period ends on Monday 08-31.
    expect((await registry.get(`/api/cases/${c.id}`)).json().deadline.dueAt).toBe('2026-08-31T15:59:59.999Z');
    await act('registry.xihu', c.id, 'ACCEPT');
    at('2026-07-02T00:00:05'); // the 冷静期 ended with 07-01; the clock stood still 31 days
    expect(await runWorker()).toMatchObject({ fired: 1 });
    const view = (await registry.get(`/api/cases/${c.id}`)).json();
    expect(view.deadline.clockPaused).toBe(false);
    // 90 counted days with 31 not counted end on Wednesday 09-30, a working day — not on 10-01
    // (the moved Monday plus 31, inside the National Day holiday) nor after it.
    expect(view.deadline.dueAt).toBe('2026-09-30T15:59:59.999Z');
    // A calendar reload replays the case clock from the event log to the same date.
    const { replayCaseDue } = await import('../../src/engine/calendarRecompute.ts');
    const row = await db()('cases').where({ id: c.id }).first();
    const cal = await ctx.engine.calendars.forRegion(db(), row.region_code);
    expect(replayCaseDue(cal, ctx.engine.registry.pinned(row.procedure_id, row.definition_version), row, await db()('case_events').where({ case_id: c.id }).orderBy('seq')).value.toISOString()).toBe('2026-09-30T15:59:59.999Z');
  });

  it('terminates a case whose 补正 notice goes unanswered past its period', async () => {
    at('2026-03-02T10:00:00');
    const c = await openCase();
    await act('clerk.beishan', c.id, 'REQUEST_SUPPLEMENT', { missingMaterials: ['id-hukou'] });
    at('2026-04-02T10:00:00');
    expect(await runWorker()).toMatchObject({ fired: 2 });
    const citizen = await track(c);
    expect(citizen.stage).toBe('补正期满未补正，终止办理');
    expect(citizen.status).toBe('done');
    expect(citizen.timeline.at(-1).step).toBe('补正期满未补正（终止办理）');
  });

  it('escalates overdue tasks to the supervisor of their region only, oldest first', async () => {
    at('2026-03-02T10:00:00');
    const first = await openCase();
    await act('clerk.beishan', first.id, 'ACCEPT');
    at('2026-03-03T10:00:00');
    const second = await openCase('clerk.xixi');
    await act('clerk.xixi', second.id, 'ACCEPT');

    at('2026-03-15T10:00:00'); // past 80% of both 10-WD investigations
    await runWorker();
    const supervisor = await ctx.as('supervisor.xihu');
    let board = (await supervisor.get('/api/supervision')).json();
    expect(board.totals).toMatchObject({ warned: 4, overdue: 0, red: 0 });
    const verification = board.departments.find((d: any) => d.department === 'county-verification');
    expect(verification.tasks.map((t: any) => t.reference)).toEqual([first.reference, second.reference]);

    // The worker has not run since the warnings: the first case's tasks are past due (03-16) and
    // the second's not yet (03-17). `totals` takes overdue and red from the due dates, as the board's
    // counts do, and counts as warned only what is not due yet — each task once.
    at('2026-03-17T10:00:00');
    board = (await supervisor.get('/api/supervision')).json();
    expect(board.totals).toEqual({ warned: 2, overdue: 2, red: 0 });
    expect(board.totals).toMatchObject({ overdue: board.counts.total.overdue, red: board.counts.total.red });
    // The list stays by recorded level: all four are recorded as warned.
    expect(board.departments.flatMap((d: any) => d.tasks.map((t: any) => t.escalation))).toEqual(['warned', 'warned', 'warned', 'warned']);

    at('2026-03-20T10:00:00'); // both due dates passed, and the first is 3 WD overdue
    await runWorker();
    board = (await supervisor.get('/api/supervision')).json();
    expect(board.totals).toMatchObject({ warned: 0, overdue: 2, red: 2 });
    const levels = board.departments.flatMap((d: any) => d.tasks.map((t: any) => `${t.reference}:${t.escalation}`)).sort();
    expect(levels).toEqual([`${first.reference}:red`, `${first.reference}:red`, `${second.reference}:overdue`, `${second.reference}:overdue`].sort());
    expect(board.departments[0].tasks[0].remainingWorkingDays).toBeLessThan(0);
    // The escalation is in the case's event log too.
    const history = (await supervisor.get(`/api/cases/${first.id}`)).json().history.map((h: any) => h.type);
    expect(history.filter((t: string) => t.startsWith('DEADLINE_'))).toEqual(['DEADLINE_WARNING', 'DEADLINE_WARNING', 'DEADLINE_OVERDUE', 'DEADLINE_OVERDUE', 'DEADLINE_RED', 'DEADLINE_RED']);

    // A supervisor of another county sees nothing of this one; a reviewer may not look.
    await upsertRegion(db(), { code: '330108', name: '滨江区（演示）', parent_code: null, settings: {} });
    await upsertUser(db(), { id: crypto.randomUUID(), username: 'supervisor.binjiang', password_hash: await hashPassword(DEMO_PASSWORD), display_name: '滨江督办', region_code: '330108', department: 'county-civil-affairs', roles: ['supervisor'] });
    const other = (await (await ctx.as('supervisor.binjiang')).get('/api/supervision')).json();
    expect(other.totals).toEqual({ warned: 0, overdue: 0, red: 0 });
    expect((await (await ctx.as('township.beishan')).get('/api/supervision')).statusCode).toBe(403);
  });

  it('treats a timer whose task has closed as a no-op', async () => {
    at('2026-03-02T10:00:00');
    const c = await openCase();
    const task = (await db()('tasks').where({ case_id: c.id }).first());
    await act('clerk.beishan', c.id, 'ACCEPT');
    // A stale timer (say, written by an older deployment) still points at the closed task.
    await db()('timers').insert({ case_id: c.id, task_id: task.id, state_id: task.state_id, kind: 'warn', event_type: 'DEADLINE_WARNING', due_at: new Date('2026-03-01T00:00:00Z'), created_at: new Date() });
    const versionBefore = (await db()('cases').where({ id: c.id }).first()).version;
    expect(await runWorker()).toMatchObject({ claimed: 1, moot: 1, fired: 0 });
    expect((await db()('cases').where({ id: c.id }).first()).version).toBe(versionBefore);
  });
});
