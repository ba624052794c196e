import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { ProcedureRegistry } from '../../src/engine/registry.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { retainedDefinitions } from '../../workflows/index.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 9, "Every 转办": a 低保 / 特困 case referred to 医疗、教育、住房、就业救助 — at acceptance or
// after approval — each as its own parallel task of its own department, seen by the citizen.
const ctx = useTestApp();

const REFERRAL_USERS = { medical: 'medical.xihu', education: 'education.xihu', housing: 'housing.xihu', employment: 'hrss.xihu' } as const;
const DEPARTMENT_NAMES = ['县级医疗保障局', '县级教育局', '县级住房和城乡建设局（住房保障）', '县级人力资源和社会保障局'];

async function open(procedureId = 'social-assistance', app: unknown = application) {
  const res = await (await ctx.as('clerk.beishan')).post('/api/cases', { procedureId, applicant, application: app });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; reference: string; trackingCode: string };
}

async function inboxTasks(user: string, caseId: string) {
  const res = await (await ctx.as(user)).get('/api/tasks?pageSize=200');
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items.filter((t: any) => t.caseId === caseId);
}

async function work(user: string, caseId: string, outcome: string, data: Record<string, unknown> = {}) {
  const task = (await inboxTasks(user, caseId)).find((t: any) => t.actions.some((a: any) => a.type === outcome));
  expect(task, `${user} should hold a task accepting ${outcome}`).toBeTruthy();
  const res = await (await ctx.as(user)).post(`/api/tasks/${task.id}/complete`, { outcome, data });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

async function track(c: { reference: string; trackingCode: string }) {
  const res = await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const caseView = async (user: string, id: string) => (await (await ctx.as(user)).get(`/api/cases/${id}`)).json();

/** Investigation, 初审, 公示 and county confirmation of a 北山 case. */
async function approve(id: string) {
  await work('verify.xihu', id, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true });
  await work('township.beishan', id, 'HOME_VISIT_COMPLETED', { visitors: ['陈刚', '刘洋'], findings: '属实' });
  await work('township.beishan', id, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 98000 });
  await work('township.beishan', id, 'PUBLIC_NOTICE_ENDED');
  return work('county.xihu', id, 'APPROVE', { monthlyAmountFen: 98000, startMonth: '2026-04' });
}

describe('转办 to the specialised reliefs', () => {
  it('refers to all four at acceptance: four parallel tasks, each seen only by its department, shown to the citizen', async () => {
    const c = await open();
    const accepted = await work('clerk.beishan', c.id, 'ACCEPT', { referrals: ['medical', 'education', 'housing', 'employment'] });
    expect(accepted.openTasks.map((t: any) => t.department).sort()).toEqual(
      ['county-verification', 'education', 'housing', 'human-resources', 'medical-insurance', 'township-civil-affairs'].sort(),
    );
    // Each with its own time limit.
    const limits = Object.fromEntries(accepted.openTasks.map((t: any) => [t.department, t.timeLimit.days]));
    expect(limits).toMatchObject({ 'medical-insurance': 10, education: 10, housing: 20, 'human-resources': 5 });

    // Each department's inbox holds its own referral task and no other department's.
    const titles: Record<string, string[]> = {};
    for (const [relief, user] of Object.entries(REFERRAL_USERS)) titles[relief] = (await inboxTasks(user, c.id)).map((t: any) => t.title);
    expect(titles).toEqual({ medical: ['医疗救助审核（转办）'], education: ['教育救助审核（转办）'], housing: ['住房救助审核（转办）'], employment: ['就业救助审核（转办）'] });
    // A department with no task on the case does not see it at all.
    expect((await (await ctx.as('tax.xihu')).get(`/api/cases/${c.id}`)).statusCode).toBe(404);

    const citizen = await track(c);
    expect(citizen.handlingDepartments).toEqual(expect.arrayContaining(DEPARTMENT_NAMES));
    expect(citizen.stage).toContain('教育救助审核中（教育部门）');

    // Outcomes, each recorded on its own: granted with its measures and amount, or refused with a reason.
    await work('medical.xihu', c.id, 'MEDICAL_ASSISTANCE_GRANTED', { measures: ['insuranceSubsidy', 'expenseSubsidy'], amountFen: 320000 });
    await work('education.xihu', c.id, 'EDUCATION_ASSISTANCE_GRANTED', { measures: ['feeWaiver'], note: '子女就读西湖小学' });
    await work('housing.xihu', c.id, 'HOUSING_ASSISTANCE_REFUSED', { reason: '家庭现有住房面积高于住房困难标准' });
    // The outcome's data is checked against the relief's own measures.
    const hrss = await ctx.as('hrss.xihu');
    const employmentTask = (await inboxTasks('hrss.xihu', c.id))[0];
    const wrong = await hrss.post(`/api/tasks/${employmentTask.id}/complete`, { outcome: 'EMPLOYMENT_ASSISTANCE_GRANTED', data: { measures: ['feeWaiver', 'rentSubsidy'] } });
    expect(wrong.json()).toMatchObject({ code: 'INVALID_EVENT_DATA' });
    await work('hrss.xihu', c.id, 'EMPLOYMENT_ASSISTANCE_GRANTED', { measures: ['publicWelfareJob'] });

    const view = await caseView('supervisor.xihu', c.id);
    expect(view.facts.referralOutcomes).toEqual({
      medical: { granted: true, measures: ['insuranceSubsidy', 'expenseSubsidy'], amountFen: 320000 },
      education: { granted: true, measures: ['feeWaiver'], note: '子女就读西湖小学' },
      housing: { granted: false, reason: '家庭现有住房面积高于住房困难标准' },
      employment: { granted: true, measures: ['publicWelfareJob'] },
    });
    expect(view.closedTasks.filter((t: any) => t.title.endsWith('（转办）')).map((t: any) => [t.department, t.outcome]).sort()).toEqual(
      [
        ['education', 'EDUCATION_ASSISTANCE_GRANTED'],
        ['housing', 'HOUSING_ASSISTANCE_REFUSED'],
        ['human-resources', 'EMPLOYMENT_ASSISTANCE_GRANTED'],
        ['medical-insurance', 'MEDICAL_ASSISTANCE_GRANTED'],
      ].sort(),
    );
    expect((await track(c)).stage).toBe('家庭经济状况核对中；入户调查中；医疗救助已批准；教育救助已批准；住房救助未批准；就业救助已批准');
    // A department that decided keeps seeing the case it worked on; its task is gone from the inbox.
    expect((await (await ctx.as('housing.xihu')).get(`/api/cases/${c.id}`)).statusCode).toBe(200);
    expect(await inboxTasks('housing.xihu', c.id)).toEqual([]);
  });

  it('refers late, after approval, without disturbing payment', async () => {
    const c = await open();
    await work('clerk.beishan', c.id, 'ACCEPT', { referrals: [] });
    // Not before approval: no task offers it while the case is investigated (the chart tests show the state does not know it).
    expect((await caseView('supervisor.xihu', c.id)).openTasks.flatMap((t: any) => t.actions.map((a: any) => a.type))).not.toContain('REFER_TO_SPECIALISED_RELIEF');
    await approve(c.id);
    const paid = await work('county.xihu', c.id, 'PAY_MONTH', { period: '2026-04' });
    const payTask = paid.openTasks.find((t: any) => t.stateId === 'sa.paying');

    // The township cannot send it: it is an action of the county's payment task.
    const township = await (await ctx.as('township.beishan')).post(`/api/cases/${c.id}/events`, { type: 'REFER_TO_SPECIALISED_RELIEF', data: { reliefs: ['housing'] }, expectedVersion: (await caseView('township.beishan', c.id)).version });
    expect(township.statusCode, township.body).toBe(403);
    expect(township.json().code).toBe('NOT_YOUR_DEPARTMENT');

    const referred = await work('county.xihu', c.id, 'REFER_TO_SPECIALISED_RELIEF', { reliefs: ['housing', 'employment'], note: '复查发现住房困难、有劳动能力成员失业' });
    expect(referred.openTasks.map((t: any) => t.department).sort()).toEqual(['county-civil-affairs', 'housing', 'human-resources']);
    // The payment task is the same task, still open, and the next month pays.
    expect(referred.openTasks.find((t: any) => t.stateId === 'sa.paying').id).toBe(payTask.id);
    await work('county.xihu', c.id, 'PAY_MONTH', { period: '2026-05' });
    expect((await caseView('county.xihu', c.id)).payments.map((p: any) => p.period)).toEqual(['2026-04', '2026-05']);

    // Referring the same relief twice is refused; a relief not yet referred still opens.
    const again = await (await ctx.as('county.xihu')).post(`/api/tasks/${payTask.id}/complete`, { outcome: 'REFER_TO_SPECIALISED_RELIEF', data: { reliefs: ['housing', 'medical'] } });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'EVENT_REFUSED', message: '所选专项救助已转办过，不能重复转办' });

    const citizen = await track(c);
    expect(citizen.handlingDepartments).toEqual(expect.arrayContaining(['县级民政局', '县级住房和城乡建设局（住房保障）', '县级人力资源和社会保障局']));
    expect(citizen.stage).toBe('已发放（按月发放中）；住房救助审核中（住房保障部门）；就业救助办理中（公共就业服务机构）');
    expect(citizen.timeline.map((t: any) => t.step)).toContain('转办专项救助');

    // Decisions and stopping payments close the case.
    await work('housing.xihu', c.id, 'HOUSING_ASSISTANCE_GRANTED', { measures: ['rentSubsidy'], amountFen: 60000 });
    await work('hrss.xihu', c.id, 'EMPLOYMENT_ASSISTANCE_GRANTED', { measures: ['jobPlacement', 'trainingSubsidy'] });
    const stopped = await work('county.xihu', c.id, 'STOP_PAYMENTS', { reason: '家庭收入已超过保障标准' });
    expect(stopped.status).toBe('done');
  });

  it('applies to 特困 as well (the same chart)', async () => {
    const c = await open('destitute-support', { supportMode: 'home', selfCareAbility: 'partial', reason: '无劳动能力、无生活来源' });
    const accepted = await work('clerk.beishan', c.id, 'ACCEPT', { referrals: ['medical'] });
    expect(accepted.openTasks.map((t: any) => t.title)).toContain('医疗救助审核（转办）');
    expect(await inboxTasks('medical.xihu', c.id)).toHaveLength(1);
  });

  it('keeps running a case started on version 1 (medical referral only) after the upgrade', async () => {
    // The engine as deployed before: only version 1 loaded.
    const before = new Engine({ registry: new ProcedureRegistry(retainedDefinitions), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS), clock: ctx.clock.now });
    const clerkRow = await ctx.database.db('users').where({ username: 'clerk.beishan' }).first();
    const clerk = { id: clerkRow.id, name: clerkRow.display_name, regionCode: clerkRow.region_code, department: clerkRow.department, roles: clerkRow.roles };
    const opened = await ctx.database.db.transaction(async (trx) => {
      const o = await before.openCase(trx, clerk, { procedureId: 'social-assistance', applicant, application });
      await before.sendEvent(trx, clerk, o.id, { type: 'ACCEPT', data: { referToMedicalAssistance: true } });
      return o;
    });
    // The current service finishes it on version 1's chart and events.
    expect((await caseView('medical.xihu', opened.id)).definitionVersion).toBe(1);
    const done = await work('medical.xihu', opened.id, 'MEDICAL_ASSISTANCE_GRANTED');
    expect(done.stage).toContain('医疗救助已批准');
    // New cases start on version 2.
    const fresh = await open();
    expect((await caseView('clerk.beishan', fresh.id)).definitionVersion).toBe(2);
  });
});
