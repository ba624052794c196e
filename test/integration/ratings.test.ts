import { describe, expect, it } from 'vitest';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { getRegion, upsertRegion } from '../../src/db/regions.ts';
import { sampled } from '../../src/engine/commands/service.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// 好差评 and 回访 (issue 9, docs/ratings.md) against a real database, time moved by hand.
const ctx = useTestApp();
const at = (chinaTime: string) => (ctx.clock.current = new Date(`${chinaTime}+08:00`));
const db = () => ctx.database.db;
const runWorker = () => new TimerWorker({ db: db(), engine: ctx.engine, workerId: 'ratings' }).runOnce();

/** Sets a setting on the township of the seeded clerks (330106001). */
async function setTownship(settings: Record<string, unknown>) {
  const region = (await getRegion(db(), '330106001'))!;
  await upsertRegion(db(), { ...region, settings: { ...region.settings, ...settings } });
}

/** A case decided at once: 不予受理 at the window is a final state. */
async function decidedCase() {
  const clerk = await ctx.as('clerk.beishan');
  const opened = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
  expect(opened.statusCode, opened.body).toBe(201);
  const c = opened.json() as { id: string; reference: string; trackingCode: string };
  const task = (await clerk.get(`/api/cases/${c.id}`)).json().openTasks[0];
  const res = await clerk.post(`/api/tasks/${task.id}/complete`, { outcome: 'REJECT_APPLICATION', data: { reason: '不符合受理条件' } });
  expect(res.statusCode, res.body).toBe(200);
  return c;
}

const offline = { attitude: 'satisfied', efficiency: 'satisfied', guidance: 'satisfied', environment: 'satisfied' };
const rate = (c: { reference: string; trackingCode: string }, body: Record<string, unknown>) =>
  ctx.app.inject({ method: 'POST', url: `/api/track/${c.reference}/ratings`, payload: { code: c.trackingCode, stage: 'decision', channel: 'offline', level: 'satisfied', indicators: offline, ...body } });

async function supervisorView(caseId: string) {
  const s = await ctx.as('supervisor.xihu');
  const res = await s.get(`/api/cases/${caseId}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function complete(taskId: string, outcome: string, data: object) {
  const s = await ctx.as('supervisor.xihu');
  return s.post(`/api/tasks/${taskId}/complete`, { outcome, data });
}

describe('好差评', () => {
  it('rates a case at most once per stage, and the decision only once decided', async () => {
    await setTownship({ followUpSampleShare: 0 });
    at('2026-03-02T09:30:00');
    const clerk = await ctx.as('clerk.beishan');
    const running = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
    const early = await rate(running, {});
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ code: 'NOT_YET_DECIDED', message: '办件尚未办结，办结后才能评价办理结果' });
    // The window service can be rated at once.
    expect((await rate(running, { stage: 'acceptance' })).statusCode).toBe(201);
    expect((await rate(running, { stage: 'acceptance', level: 'verySatisfied' })).json().code).toBe('ALREADY_RATED');

    const c = await decidedCase();
    const first = await rate(c, { level: 'basicallySatisfied', comment: '办理较快' });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toEqual({ reference: c.reference, stage: 'decision', level: 'basicallySatisfied', rectification: false });
    const again = await rate(c, { level: 'veryDissatisfied' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'ALREADY_RATED', message: expect.stringContaining('只能评价一次') });
    const events = await db()('case_events').where({ case_id: c.id, type: 'CASE_RATED' });
    expect(events).toHaveLength(1);
    expect(events[0].payload).toMatchObject({ stage: 'decision', channel: 'offline', level: 'basicallySatisfied', comment: '办理较快' });
    // No 整改 for a good rating; the tracking view says what is rated.
    expect((await supervisorView(c.id)).openTasks).toEqual([]);
    const tracked = (await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}` })).json();
    expect(tracked.rating).toEqual({ acceptance: null, decision: 'basicallySatisfied', decided: true });
    expect(tracked.timeline.map((t: any) => t.step)).toContain('群众评价');
  });

  it('opens a 差评整改 task due in 15 working days on the calendar, escalates it when overdue, and closes it with a 回访', async () => {
    await setTownship({ followUpSampleShare: 0 });
    at('2026-09-21T10:00:00'); // Monday before 中秋 and 国庆
    const c = await decidedCase();
    const bad = await rate(c, { level: 'dissatisfied', comment: '等待时间太长' });
    expect(bad.statusCode, bad.body).toBe(201);
    expect(bad.json().rectification).toBe(true);

    let view = await supervisorView(c.id);
    const task = view.openTasks.find((t: any) => t.stateId === 'service.rectification');
    expect(task).toMatchObject({ title: '差评整改', department: 'county-civil-affairs', role: 'supervisor', escalation: 'none', timeLimit: { days: 15, unit: 'WD' } });
    // 15 working days skip 中秋 (9-25…27) and 国庆 (10-1…7), and count the 10-10 调休 Saturday: Mon 10-19.
    expect(task.dueAt).toBe('2026-10-19T15:59:59.999Z');
    expect(task.actions.map((a: any) => a.type)).toEqual(['RECTIFICATION_DONE']);
    expect(task.actions[0].dataSchema).toBe('#/components/schemas/Service_RECTIFICATION_DONE');

    // In the supervisor's 待办, which holds supervisors' tasks only.
    const inbox = (await (await ctx.as('supervisor.xihu')).get('/api/tasks')).json();
    expect(inbox.items.some((t: any) => t.id === task.id && t.actions.length === 1)).toBe(true);
    expect(inbox.items.every((t: any) => t.role === 'supervisor')).toBe(true);
    // A reviewer of the same department has it neither in 待办 nor to work.
    const reviewer = await ctx.as('county.xihu');
    expect((await reviewer.get('/api/tasks')).json().items.some((t: any) => t.id === task.id)).toBe(false);
    expect((await reviewer.post(`/api/tasks/${task.id}/complete`, { outcome: 'RECTIFICATION_DONE', data: { cause: '排队', measures: '增开窗口' } })).statusCode).toBe(403);

    // Overdue: the worker escalates it like any task.
    at('2026-10-20T09:00:00');
    await runWorker();
    view = await supervisorView(c.id);
    expect(view.openTasks.find((t: any) => t.id === task.id).escalation).toBe('overdue');
    expect(view.history.map((h: any) => h.type)).toContain('DEADLINE_OVERDUE');

    const invalid = await complete(task.id, 'RECTIFICATION_DONE', { measures: '' });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json().code).toBe('INVALID_EVENT_DATA');
    const rectified = await complete(task.id, 'RECTIFICATION_DONE', { cause: '窗口排队时间长', measures: '高峰期增开窗口，推行预约办理' });
    expect(rectified.statusCode, rectified.body).toBe(200);
    view = await supervisorView(c.id);
    expect(view.closedTasks.find((t: any) => t.id === task.id)).toMatchObject({ status: 'completed', outcome: 'RECTIFICATION_DONE' });
    const followUp = view.openTasks.find((t: any) => t.stateId === 'service.followUp');
    expect(followUp).toMatchObject({ title: '整改回访', actions: [expect.objectContaining({ type: 'FOLLOW_UP_DONE', label: '回访完成' })] });
    // The escalation timers of the closed task are gone.
    expect(await db()('timers').where({ task_id: task.id, status: 'pending' })).toEqual([]);

    const followed = await complete(followUp.id, 'FOLLOW_UP_DONE', { reached: true, newLevel: 'satisfied', note: '电话回访，申请人认可整改' });
    expect(followed.statusCode, followed.body).toBe(200);
    view = await supervisorView(c.id);
    expect(view.openTasks).toEqual([]);
    expect(view.history.slice(-3).map((h: any) => [h.type, h.label])).toEqual([
      ['DEADLINE_OVERDUE', '已超期（黄牌）'],
      ['RECTIFICATION_DONE', '差评整改完成'],
      ['FOLLOW_UP_DONE', '回访完成'],
    ]);
    expect(view.history.at(-1).payload).toMatchObject({ reached: true, newLevel: 'satisfied' });
    // Hash-chained like every event.
    const audit = await (await ctx.as('supervisor.xihu')).get(`/api/cases/${c.id}/audit/verify`);
    expect(audit.json()).toMatchObject({ valid: true });
    expect((await complete(followUp.id, 'FOLLOW_UP_DONE', { reached: true, note: '再次回访' })).json().code).toBe('TASK_NOT_OPEN');

    // The 月报告 counts the rating, the late 整改 and the 回访.
    const report = (await (await ctx.as('supervisor.xihu')).get('/api/reports/monthly?month=2026-10')).json();
    expect(report.totals).toMatchObject({ rectificationsDone: 1, rectificationsOnTime: 0, followUpsDone: 1, followUpsReached: 1 });
    const september = (await (await ctx.as('supervisor.xihu')).get('/api/reports/monthly?month=2026-09')).json();
    expect(september.totals.ratings).toMatchObject({ dissatisfied: 1, total: 1 });
  });

  it('uses the region setting for the 整改 limit', async () => {
    await setTownship({ followUpSampleShare: 0, rectificationWorkingDays: 5 });
    at('2026-11-02T10:00:00'); // Monday
    const c = await decidedCase();
    expect((await rate(c, { level: 'veryDissatisfied' })).statusCode).toBe(201);
    const task = (await supervisorView(c.id)).openTasks.find((t: any) => t.stateId === 'service.rectification');
    expect(task).toMatchObject({ timeLimit: { days: 5 }, dueAt: '2026-11-09T15:59:59.999Z' });
    await setTownship({ rectificationWorkingDays: 15 });
  });
});

describe('评价邀请', () => {
  const invitations = async (caseId: string) => db()('outbox').where({ case_id: caseId, kind: 'notice.rating_invitation' });

  it('invites a decided case once, 3 days after the decision, and never a case already rated', async () => {
    await setTownship({ followUpSampleShare: 0 });
    at('2026-03-10T10:00:00');
    const c = await decidedCase();
    const rated = await decidedCase();
    expect((await rate(rated, {})).statusCode).toBe(201);

    at('2026-03-13T09:59:00'); // not yet 3 days
    await runWorker();
    expect(await invitations(c.id)).toHaveLength(0);
    at('2026-03-13T10:01:00');
    await runWorker();
    const sent = await invitations(c.id);
    expect(sent).toHaveLength(1);
    expect(sent[0].payload).toMatchObject({ reference: c.reference });
    at('2026-03-20T10:00:00');
    await runWorker();
    expect(await invitations(c.id)).toHaveLength(1);
    expect(await invitations(rated.id)).toHaveLength(0);
    const history = (await supervisorView(c.id)).history.map((h: any) => h.type);
    expect(history.filter((t: string) => t === 'RATING_INVITED')).toHaveLength(1);
    // Rating after the invitation still works.
    expect((await rate(c, { channel: 'online', indicators: { usability: 'satisfied', guidance: 'satisfied', efficiency: 'verySatisfied', response: 'satisfied' } })).statusCode).toBe(201);
  });
});

describe('抽样回访', () => {
  it('gives the configured share of decided, unrated cases a 回访 task with the invitation, chosen by the reference', async () => {
    expect(sampled('DB-330106001-260302-0001-2', 0)).toBe(false);
    expect(sampled('DB-330106001-260302-0001-2', 1)).toBe(true);
    const refs = Array.from({ length: 2000 }, (_, i) => `DB-330106001-260302-${String(i).padStart(4, '0')}-1`);
    const chosen = refs.filter((r) => sampled(r, 0.1));
    expect(chosen.length / refs.length).toBeGreaterThan(0.08);
    expect(chosen.length / refs.length).toBeLessThan(0.12);
    expect(refs.filter((r) => sampled(r, 0.1))).toEqual(chosen); // deterministic

    at('2026-04-01T10:00:00');
    await setTownship({ followUpSampleShare: 1 });
    const all = await decidedCase();
    const ratedOne = await decidedCase();
    expect((await rate(ratedOne, {})).statusCode).toBe(201);
    expect((await supervisorView(all.id)).openTasks).toEqual([]); // not at the decision itself
    at('2026-04-04T10:01:00');
    await runWorker();
    const task = (await supervisorView(all.id)).openTasks.find((t: any) => t.stateId === 'service.sample');
    expect(task).toMatchObject({ title: '抽样回访', role: 'supervisor', timeLimit: { days: 5, unit: 'WD' } });
    expect((await supervisorView(ratedOne.id)).openTasks).toEqual([]); // rated: no invitation, no sample
    expect((await complete(task.id, 'FOLLOW_UP_DONE', { reached: false, note: '电话无人接听' })).statusCode).toBe(200);

    await setTownship({ followUpSampleShare: 0 });
    const none = await decidedCase();
    at('2026-04-08T10:01:00');
    await runWorker();
    expect((await supervisorView(none.id)).history.map((h: any) => h.type)).toContain('RATING_INVITED');
    expect((await supervisorView(none.id)).openTasks).toEqual([]);
  });
});
