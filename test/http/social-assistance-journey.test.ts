import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// A 低保 case from application to payment, through the HTTP API only, each step done by the
// user whose department owns it — found in that user's own inbox.
const ctx = useTestApp();

async function open(clerk: string) {
  const c = await ctx.as(clerk);
  const res = await c.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; reference: string; trackingCode: string; version: number };
}

async function inboxTask(user: string, caseId: string, outcome: string) {
  const c = await ctx.as(user);
  const inbox = await c.get('/api/tasks?pageSize=200');
  expect(inbox.statusCode).toBe(200);
  return inbox.json().items.find((t: any) => t.caseId === caseId && t.actions.some((a: any) => a.type === outcome));
}

async function work(user: string, caseId: string, outcome: string, data: Record<string, unknown> = {}) {
  const task = await inboxTask(user, caseId, outcome);
  expect(task, `${user} should see a task accepting ${outcome}`).toBeTruthy();
  const c = await ctx.as(user);
  const res = await c.post(`/api/tasks/${task.id}/complete`, { outcome, data });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function track(reference: string, code: string) {
  const res = await ctx.app.inject({ method: 'GET', url: `/api/track/${reference}?code=${code}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function caseOf(user: string, caseId: string) {
  const res = await (await ctx.as(user)).get(`/api/cases/${caseId}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const openTaskDepartments = (view: any) => view.openTasks.map((t: any) => t.department).sort();

describe('social assistance (低保) end to end over HTTP', () => {
  it('runs 补正, parallel investigation, a 公示 objection loop, county confirmation, 转办 and payment', async () => {
    const created = await open('clerk.beishan');
    expect(created.reference).toMatch(/^DB-330106001-\d{6}-0001-[0-9X]$/);
    expect(created.trackingCode).toMatch(/^[A-Z2-9]{8}$/);

    // 补正: one notice lists everything missing; the citizen sees the list.
    let view = await work('clerk.beishan', created.id, 'REQUEST_SUPPLEMENT', {
      missingMaterials: ['income-declaration', 'verification-authorization'],
    });
    expect(view.stage).toBe('待补正');
    let citizen = await track(created.reference, created.trackingCode);
    expect(citizen.stage).toBe('待补正');
    expect(citizen.missingMaterials).toEqual(['家庭收入和财产状况申报', '家庭经济状况核对授权书']);
    expect(citizen.applicantName).toBe('张*丰');
    expect(JSON.stringify(citizen)).not.toContain(applicant.idNumber);

    // Re-submission resumes at acceptance; the clerk accepts and refers medical assistance (转办).
    view = await work('clerk.beishan', created.id, 'SUPPLEMENT_RECEIVED');
    expect(view.stage).toBe('已提交，待受理');
    view = await work('clerk.beishan', created.id, 'ACCEPT', { referrals: ['medical'] });
    // Joint handling: three departments hold parallel tasks at once.
    expect(openTaskDepartments(view)).toEqual(['county-verification', 'medical-insurance', 'township-civil-affairs']);
    citizen = await track(created.reference, created.trackingCode);
    expect(citizen.handlingDepartments).toEqual(
      expect.arrayContaining(['县级居民家庭经济状况核对机构', '乡镇（街道）社会救助经办机构', '县级医疗保障局']),
    );

    // One branch finishing does not move the case past the join.
    view = await work('verify.xihu', created.id, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 110000, propertyWithinLimit: true });
    expect(view.openTasks.map((t: any) => t.title)).not.toContain('初审');
    view = await work('township.beishan', created.id, 'HOME_VISIT_COMPLETED', { visitors: ['陈刚', '刘洋'], findings: '家中有重病患者，收入属实' });
    expect(view.openTasks.map((t: any) => t.title)).toContain('初审');

    view = await work('township.beishan', created.id, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 98000 });
    expect(view.stage).toContain('公示中');

    // An objection during 公示 sends the case back to a new investigation.
    view = await work('township.beishan', created.id, 'OBJECTION_RAISED', { details: '邻居反映申请人有出租房屋收入' });
    expect(view.openTasks.map((t: any) => t.title).sort()).toEqual(['入户调查', '医疗救助审核（转办）', '家庭经济状况信息核对'].sort());
    expect(view.facts.objectionRounds).toBe(1);
    await work('verify.xihu', created.id, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 115000, propertyWithinLimit: true });
    await work('township.beishan', created.id, 'HOME_VISIT_COMPLETED', { visitors: ['陈刚', '刘洋'], findings: '出租房屋已于去年出售，异议不成立' });
    await work('township.beishan', created.id, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 98000 });
    view = await work('township.beishan', created.id, 'PUBLIC_NOTICE_ENDED');

    // Two-level region: the county confirms; the township has nothing to confirm.
    expect(await inboxTask('township.beishan', created.id, 'APPROVE')).toBeUndefined();
    view = await work('county.xihu', created.id, 'APPROVE', { monthlyAmountFen: 98000, startMonth: '2026-04' });
    expect(view.stage).toContain('已确认，待发放');

    view = await work('medical.xihu', created.id, 'MEDICAL_ASSISTANCE_GRANTED', { measures: ['expenseSubsidy'], amountFen: 150000 });
    view = await work('county.xihu', created.id, 'PAY_MONTH', { period: '2026-04' });
    // Parallel regions each report their stage.
    expect(view.stage).toBe('已发放（按月发放中）；医疗救助已批准');
    expect((await caseOf('county.xihu', created.id)).payments).toEqual([expect.objectContaining({ period: '2026-04', amountFen: 98000 })]);

    // The same month cannot be paid twice.
    const county = await ctx.as('county.xihu');
    const payTask = await inboxTask('county.xihu', created.id, 'PAY_MONTH');
    const again = await county.post(`/api/tasks/${payTask.id}/complete`, { outcome: 'PAY_MONTH', data: { period: '2026-04' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('EVENT_REFUSED');
    view = await work('county.xihu', created.id, 'PAY_MONTH', { period: '2026-05' });
    expect((await caseOf('county.xihu', created.id)).payments.map((p: any) => p.period)).toEqual(['2026-04', '2026-05']);

    citizen = await track(created.reference, created.trackingCode);
    expect(citizen.stage).toBe('已发放（按月发放中）；医疗救助已批准');
    expect(citizen.decision).toEqual({ approved: true, monthlyAmountFen: 98000, startMonth: '2026-04' });

    // The event log names the real user behind every step.
    const full = (await (await ctx.as('county.xihu')).get(`/api/cases/${created.id}`)).json();
    const who = Object.fromEntries(full.history.map((h: any) => [h.type, h.actor]));
    expect(who).toMatchObject({
      CASE_OPENED: '北山街道窗口 王敏',
      ACCEPT: '北山街道窗口 王敏',
      VERIFICATION_COMPLETED: '区核对中心 吴强',
      HOME_VISIT_COMPLETED: '北山街道社会救助 陈刚',
      APPROVE: '区民政局 郑洁',
      MEDICAL_ASSISTANCE_GRANTED: '区医保局 孙涛',
    });
    expect(full.history.map((h: any) => h.seq)).toEqual(full.history.map((_: any, i: number) => i + 1));
    expect(full.version).toBe(full.history.length);
  });

  it('refuses at county level with reasons and a remedy, and closes the case', async () => {
    const created = await open('clerk.beishan');
    await work('clerk.beishan', created.id, 'ACCEPT');
    await work('verify.xihu', created.id, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 400000, propertyWithinLimit: false });
    await work('township.beishan', created.id, 'HOME_VISIT_COMPLETED', { visitors: ['陈刚', '刘洋'], findings: '家庭有车辆两台' });
    await work('township.beishan', created.id, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 50000 });
    await work('township.beishan', created.id, 'PUBLIC_NOTICE_ENDED');
    const view = await work('county.xihu', created.id, 'REFUSE', { reason: '家庭财产超过当地规定标准' });
    expect(view.status).toBe('done');
    expect(view.openTasks).toEqual([]);
    const citizen = await track(created.reference, created.trackingCode);
    expect(citizen.stage).toBe('已办结');
    expect(citizen.decision).toMatchObject({ approved: false, reason: '家庭财产超过当地规定标准' });
    expect(citizen.decision.remedy).toContain('行政复议');
  });

  it('lets a delegated region confirm at township level, with no county step', async () => {
    const created = await open('clerk.xixi');
    await work('clerk.xixi', created.id, 'ACCEPT');
    // The neighbouring township's reviewer never sees this case's tasks.
    expect(await inboxTask('township.beishan', created.id, 'HOME_VISIT_COMPLETED')).toBeUndefined();
    await work('verify.xihu', created.id, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 90000, propertyWithinLimit: true });
    await work('township.xixi', created.id, 'HOME_VISIT_COMPLETED', { visitors: ['周丽', '马超'], findings: '情况属实' });
    await work('township.xixi', created.id, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 60000 });
    let view = await work('township.xixi', created.id, 'PUBLIC_NOTICE_ENDED');
    expect(view.stage).toBe('乡镇（街道）审核确认中');
    expect(await inboxTask('county.xihu', created.id, 'APPROVE')).toBeUndefined();
    view = await work('township.xixi', created.id, 'APPROVE', { monthlyAmountFen: 60000, startMonth: '2026-04' });
    view = await work('county.xihu', created.id, 'PAY_MONTH', { period: '2026-04' });
    expect(view.stage).toBe('已发放（按月发放中）');
    const history = (await caseOf('township.xixi', created.id)).history.map((h: any) => h.type);
    expect(history).toEqual(['CASE_OPENED', 'ACCEPT', 'VERIFICATION_COMPLETED', 'HOME_VISIT_COMPLETED', 'PRELIMINARY_APPROVE', 'PUBLIC_NOTICE_ENDED', 'APPROVE', 'PAY_MONTH']);
  });

  it('records 不予受理 with its reason and withdrawal at the window', async () => {
    const rejected = await open('clerk.beishan');
    const view = await work('clerk.beishan', rejected.id, 'REJECT_APPLICATION', { reason: '申请人户籍不在本街道' });
    expect(view.status).toBe('done');
    expect((await track(rejected.reference, rejected.trackingCode)).stage).toBe('不予受理');

    const withdrawn = await open('clerk.beishan');
    await work('clerk.beishan', withdrawn.id, 'ACCEPT');
    const clerk = await ctx.as('clerk.beishan');
    const res = await clerk.post(`/api/cases/${withdrawn.id}/events`, { type: 'WITHDRAW', data: { reason: '申请人主动撤回' }, expectedVersion: 2 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().stage).toBe('已撤回');
    // Leaving the parallel handling cancels every open department task.
    expect(res.json().openTasks).toEqual([]);
    const closed = (await caseOf('clerk.beishan', withdrawn.id)).closedTasks;
    expect(closed.filter((t: any) => t.status === 'cancelled').map((t: any) => t.title).sort()).toEqual(['入户调查', '家庭经济状况信息核对']);
  });
});
