import { describe, expect, it } from 'vitest';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { CALENDAR_CACHE_MS } from '../../src/engine/calendars.ts';
import { runRecomputeOnce } from '../../src/engine/calendarRecompute.ts';
import { applicant, application, useTestApp } from '../support/app.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';

// Issue 10, provisional calendar: a case opened on 2026-12-20, before the 2027 notice, gets
// provisional 2027 dates; loading the notice recomputes them in the background, moves the timers,
// clears the mark and logs the change; escalation then fires on the new dates, not the old ones.
const ctx = useTestApp();
const at = (chinaTime: string) => (ctx.clock.current = new Date(`${chinaTime}+08:00`));
const db = () => ctx.database.db;
const runWorker = (id = 'worker-a') => new TimerWorker({ db: db(), engine: ctx.engine, workerId: id }).runOnce();
const CAVEAT = '（以国务院公布的节假日安排为准）';

// Made up in the real pattern of a notice: 春节 5–12 February (8 days) with Sunday 31 January and
// Saturday 20 February worked; 劳动节 and 国庆 stretched the same way.
const OFFICIAL_2027 = {
  regionCode: 'CN',
  source: '国务院办公厅关于2027年部分节假日安排的通知（测试用）',
  holidays: [
    '2027-01-01 元旦', '2027-02-05 春节', '2027-02-08 春节', '2027-02-09 春节', '2027-02-10 春节', '2027-02-11 春节', '2027-02-12 春节',
    '2027-04-05 清明节', '2027-05-03 劳动节', '2027-05-04 劳动节', '2027-05-05 劳动节', '2027-06-09 端午节', '2027-09-15 中秋节',
    '2027-10-01 国庆节', '2027-10-04 国庆节', '2027-10-05 国庆节', '2027-10-06 国庆节', '2027-10-07 国庆节',
  ].map((s) => ({ date: s.slice(0, 10), name: s.slice(11) })),
  workdays: ['2027-01-31 春节调休上班', '2027-02-20 春节调休上班', '2027-04-25 劳动节调休上班', '2027-10-09 国庆节调休上班'].map((s) => ({ date: s.slice(0, 10), name: s.slice(11) })),
};

async function caseView(user: string, id: string) {
  const res = await (await ctx.as(user)).get(`/api/cases/${id}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('a case opened before the 2027 notice', () => {
  it('has provisional 2027 dates, moved with their timers when the notice is loaded, and escalates on the new dates', async () => {
    at('2026-12-20T10:00:00'); // Sunday
    const clerk = await ctx.as('clerk.beishan');
    const created = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
    expect(created.statusCode, created.body).toBe(201);
    const c = created.json();

    // 30 WD from Sun 2026-12-20 on the provisional calendar: Mon 2027-02-01 (元旦 off).
    let view = await caseView('clerk.beishan', c.id);
    expect(view.deadline).toMatchObject({ dueAt: '2027-02-01T15:59:59.999Z', provisional: true, note: null, text: `预计 2027年2月1日前${CAVEAT}` });
    // The acceptance step's 5 WD stay in 2026: a certain date, not marked.
    expect(view.openTasks[0]).toMatchObject({ dueAt: '2026-12-25T15:59:59.999Z', deadlineProvisional: false, deadlineText: '2026年12月25日前' });
    const tracked = (await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}` })).json();
    expect(tracked.deadline).toMatchObject({ provisional: true, text: `预计 2027年2月1日前${CAVEAT}` });

    // Accepted on Mon 25 January, still before the notice: 10 WD run over 春节 — provisionally
    // 5–10 February off (春节 and 补假), due Fri 12 February.
    at('2027-01-25T10:00:00');
    const accepted = await clerk.post(`/api/cases/${c.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
    expect(accepted.statusCode, accepted.body).toBe(200);
    view = await caseView('clerk.beishan', c.id);
    const check = view.openTasks.find((t: any) => t.stateId === 'sa.informationCheck');
    expect(check).toMatchObject({ dueAt: '2027-02-12T15:59:59.999Z', deadlineProvisional: true });
    const inbox = (await (await ctx.as('verify.xihu')).get('/api/tasks?pageSize=200')).json();
    expect(inbox.items.find((t: any) => t.id === check.id)).toMatchObject({ deadlineProvisional: true, deadlineText: `预计 2027年2月12日前${CAVEAT}` });
    // A 主动发现 lead registered the same morning: 5 WD to review, provisionally Mon 1 February.
    const grid = await ctx.as('grid.beishan');
    const household = { headName: '张三丰', headIdNumber: '330106198001010013', phone: '13800138000', address: '北山街道葛岭路1号', size: 3 };
    const lead = await grid.post('/api/leads', { household, situation: '户主突发重病住院', suggestedProcedure: 'temporary-assistance', urgency: 'normal' });
    expect(lead.statusCode, lead.body).toBe(201);
    expect(lead.json()).toMatchObject({ reviewDueAt: '2027-02-01T15:59:59.999Z', reviewDueProvisional: true });
    const timersBefore = await db()('timers').where({ task_id: check.id, status: 'pending' }).orderBy('due_at');
    expect(timersBefore.map((t: any) => t.kind)).toEqual(['warn', 'overdue', 'red']);
    expect(timersBefore[1].due_at.toISOString()).toBe('2027-02-12T15:59:59.999Z');

    // Admins were told from 1 November; the listing still says 2027 is missing… until loaded.
    const admin = await ctx.as('admin.xihu');
    at('2026-11-01T09:00:00');
    expect((await admin.get('/api/admin/calendars')).json().nextYear).toMatchObject({ year: 2027, loaded: false, warning: true });
    at('2027-01-25T11:00:00');
    const load = await ctx.app.inject({ method: 'PUT', url: '/api/admin/calendars/2027', headers: { authorization: `Bearer ${admin.token}` }, payload: OFFICIAL_2027 });
    expect(load.statusCode, load.body).toBe(200);
    const jobId = load.json().recomputeJobId;

    // Not before every process has dropped its cached (provisional) calendar.
    await runWorker();
    expect((await caseView('clerk.beishan', c.id)).deadline.provisional).toBe(true);
    ctx.clock.advance(CALENDAR_CACHE_MS + 1000);
    await runWorker();

    const jobs = (await admin.get('/api/admin/calendars')).json();
    expect(jobs.recomputeJobs.find((j: any) => j.id === jobId)).toMatchObject({ status: 'done', casesSeen: 1, casesChanged: 1, year: 2027 });
    view = await caseView('clerk.beishan', c.id);
    // 30 WD now end on Sun 31 January, a worked day; 10 WD from 25 January on Mon 15 February.
    expect(view.deadline).toMatchObject({ dueAt: '2027-01-31T15:59:59.999Z', provisional: false, text: '2027年1月31日前' });
    const moved = view.openTasks.find((t: any) => t.id === check.id);
    expect(moved).toMatchObject({ dueAt: '2027-02-15T15:59:59.999Z', deadlineProvisional: false, deadlineText: '2027年2月15日前' });
    expect(view.openTasks.every((t: any) => t.deadlineProvisional === false)).toBe(true);
    // The lead too: Sunday 31 January is worked in the notice, so its 5 WD end that day.
    const reread = await grid.get(`/api/leads/${lead.json().id}`);
    expect(reread.json()).toMatchObject({ reviewDueAt: '2027-01-31T15:59:59.999Z', reviewDueProvisional: false });
    const timersAfter = await db()('timers').where({ task_id: check.id, status: 'pending' }).orderBy('due_at');
    expect(timersAfter.map((t: any) => [t.kind, t.due_at.toISOString()])).toEqual([
      ['warn', expect.any(String)],
      ['overdue', '2027-02-15T15:59:59.999Z'],
      ['red', '2027-02-18T15:59:59.999Z'], // 3 WD later: 16, 17, 18 February
    ]);
    expect(timersAfter[0].due_at > timersBefore[0].due_at).toBe(true);

    // The case log says what changed, in the hash chain.
    const logged = view.history.filter((h: any) => h.type === 'DEADLINES_RECOMPUTED');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ label: '时限已按公布的节假日安排重新计算', actor: '系统（时限引擎）' });
    expect(logged[0].payload).toMatchObject({
      year: 2027,
      caseDue: { from: '2027-02-01T15:59:59.999Z', to: '2027-01-31T15:59:59.999Z', provisional: false },
      changes: expect.arrayContaining([expect.objectContaining({ taskId: check.id, from: '2027-02-12T15:59:59.999Z', to: '2027-02-15T15:59:59.999Z' })]),
    });
    const audit = await (await ctx.as('supervisor.xihu')).get(`/api/cases/${c.id}/audit/verify`);
    expect(audit.json(), audit.body).toMatchObject({ valid: true });

    // A second run finds nothing more to do and logs nothing.
    ctx.clock.advance(1000);
    await runWorker();
    expect((await caseView('clerk.beishan', c.id)).history.filter((h: any) => h.type === 'DEADLINES_RECOMPUTED')).toHaveLength(1);

    // The old due date passes: no 黄牌 (it was moved).
    at('2027-02-13T10:00:00');
    await runWorker();
    let task = (await caseView('verify.xihu', c.id)).openTasks.find((t: any) => t.id === check.id);
    expect(task.escalation).toBe('warned');
    // The new one passes: 黄牌 now.
    at('2027-02-16T09:00:00');
    await runWorker();
    view = await caseView('verify.xihu', c.id);
    task = view.openTasks.find((t: any) => t.id === check.id);
    expect(task.escalation).toBe('overdue');
    const overdue = view.history.filter((h: any) => h.type === 'DEADLINE_OVERDUE' && h.payload.taskId === check.id);
    expect(overdue).toHaveLength(1);
    expect(overdue[0].payload.dueAt).toBe('2027-02-15T15:59:59.999Z');
  });

  it('recomputes in batches, resuming where the last committed batch ended, each case logged once', async () => {
    at('2027-12-15T10:00:00'); // 30 WD run into 2028, not loaded: provisional (due Wed 2 Feb)
    const clerk = await ctx.as('clerk.beishan');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().id);
    }
    const before = await Promise.all(ids.map((id) => caseView('clerk.beishan', id)));
    expect(before.every((v) => v.deadline.provisional === true && v.deadline.dueAt.startsWith('2028-02-'))).toBe(true);

    const admin = await ctx.as('admin.xihu');
    const load = await ctx.app.inject({
      method: 'PUT',
      url: '/api/admin/calendars/2028',
      headers: { authorization: `Bearer ${admin.token}` },
      payload: {
        regionCode: 'CN',
        source: '国务院办公厅关于2028年部分节假日安排的通知（测试用）',
        holidays: ['2028-01-01', '2028-01-24', '2028-01-25', '2028-01-26', '2028-01-27', '2028-01-28', '2028-01-31'].map((date) => ({ date, name: date === '2028-01-01' ? '元旦' : '春节' })),
        workdays: [{ date: '2028-02-05', name: '春节调休上班' }],
      },
    });
    expect(load.statusCode, load.body).toBe(200);
    ctx.clock.advance(CALENDAR_CACHE_MS + 1000);

    const run = () => runRecomputeOnce({ db: db(), engine: ctx.engine, workerId: 'recompute-a', batchSize: 2, maxBatches: 1 });
    expect(await run()).toMatchObject({ batches: 1, seen: 2, changed: 2, done: false });
    expect(await run()).toMatchObject({ batches: 1, seen: 2, changed: 2, done: false });
    expect(await run()).toMatchObject({ batches: 1, seen: 1, changed: 1, done: true });
    expect(await run()).toMatchObject({ jobId: null }); // nothing left to claim

    for (const [i, id] of ids.entries()) {
      const v = await caseView('clerk.beishan', id);
      // 30 WD on the notice: Mon 3 January is worked (no 元旦 补假 in it), 24–31 January are off.
      expect(v.deadline).toMatchObject({ dueAt: '2028-02-03T15:59:59.999Z', provisional: false });
      expect(v.deadline.dueAt).not.toBe(before[i].deadline.dueAt);
      expect(v.history.filter((h: any) => h.type === 'DEADLINES_RECOMPUTED')).toHaveLength(1);
    }
  });

  // PGlite has one connection: a lock held from outside needs PostgreSQL.
  it.skipIf(!process.env.DATABASE_URL)('hands the job back when a case is locked by someone else, and finishes it later', async () => {
    at('2028-12-15T10:00:00');
    // Sessions of the earlier tests have run out by now (a year): log in afresh.
    const login = async (username: string) => (await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } })).json().token as string;
    const admin = { token: await login('admin.xihu') };
    const token = await login('clerk.beishan');
    const opened = await ctx.app.inject({ method: 'POST', url: '/api/cases', headers: { authorization: `Bearer ${token}` }, payload: { procedureId: 'social-assistance', applicant, application } });
    expect(opened.statusCode, opened.body).toBe(201);
    const id = opened.json().id;
    const load = await ctx.app.inject({
      method: 'PUT',
      url: '/api/admin/calendars/2029',
      headers: { authorization: `Bearer ${admin.token}` },
      payload: { regionCode: 'CN', source: '测试用2029年安排', holidays: [{ date: '2029-01-01', name: '元旦' }, { date: '2029-01-02', name: '元旦' }], workdays: [] },
    });
    expect(load.statusCode, load.body).toBe(200);
    ctx.clock.advance(CALENDAR_CACHE_MS + 1000);

    const outside = await db().transaction();
    try {
      await outside('cases').where({ id }).forUpdate().first();
      expect(await runRecomputeOnce({ db: db(), engine: ctx.engine, workerId: 'recompute-b' })).toMatchObject({ busy: true, done: false, changed: 0 });
    } finally {
      await outside.rollback();
    }
    expect(await runRecomputeOnce({ db: db(), engine: ctx.engine, workerId: 'recompute-b' })).toMatchObject({ jobId: null }); // handed back for a second later
    ctx.clock.advance(1500);
    expect(await runRecomputeOnce({ db: db(), engine: ctx.engine, workerId: 'recompute-c' })).toMatchObject({ done: true, changed: 1 });
    expect((await db()('cases').where({ id }).first()).deadline_provisional).toBe(false);
  });
});
