import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 13 B2 and A5 through the API, and need-to-know visibility (issue 8).
const ctx = useTestApp();
const db = () => ctx.database.db;

async function openAccepted() {
  const clerk = await ctx.as('clerk.beishan');
  const created = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
  const accepted = await clerk.post(`/api/cases/${created.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  expect(accepted.statusCode, accepted.body).toBe(200);
  return created as { id: string; reference: string; trackingCode: string };
}

const snapshotOf = async (id: string) => ({
  case: await db()('cases').where({ id }).first('version', 'status', 'state_value'),
  events: (await db()('case_events').where({ case_id: id }).select('seq')).length,
});

const actionsByTask = (view: any) => Object.fromEntries(view.openTasks.map((t: any) => [t.stateId, t.actions.map((a: any) => a.type)]));
const allowed = (view: any) => view.allowedEvents.map((a: any) => a.type).sort();

describe('withdrawal (B2)', () => {
  it('is refused to clerks of other departments and other townships, as if the case did not exist, and changes nothing', async () => {
    const c = await openAccepted();
    const before = await snapshotOf(c.id);
    for (const username of ['registry.xihu', 'socialorg.clerk', 'clerk.xixi']) {
      const res = await (await ctx.as(username)).post(`/api/cases/${c.id}/events`, { type: 'WITHDRAW', data: { reason: '越权撤回' }, expectedVersion: 2 });
      expect(res.statusCode, username).toBe(404);
      expect(res.json().code, username).toBe('NOT_FOUND');
    }
    // A reviewer who sees the case (a task of theirs) may still not withdraw it.
    const township = await (await ctx.as('township.beishan')).post(`/api/cases/${c.id}/events`, { type: 'WITHDRAW', data: { reason: '越权撤回' }, expectedVersion: 2 });
    expect(township.statusCode).toBe(403);
    expect(township.json().code).toBe('NOT_PERMITTED');
    expect(await snapshotOf(c.id)).toEqual(before);

    // The accepting window records the applicant's own request.
    const own = await (await ctx.as('clerk.beishan')).post(`/api/cases/${c.id}/events`, { type: 'WITHDRAW', data: { reason: '申请人主动撤回' }, expectedVersion: 2 });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toMatchObject({ status: 'done', stage: '已撤回', allowedEvents: [], openTasks: [] });
  });
});

describe('need to know', () => {
  it('hides a case from a department with no task on it — view, personal data, events — and shows it once it has one', async () => {
    const c = await openAccepted();
    const medical = await ctx.as('medical.xihu');
    for (const url of [`/api/cases/${c.id}`, `/api/cases/${c.id}/personal-data`]) {
      const res = await medical.get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().code, url).toBe('NOT_FOUND');
    }
    const county = await ctx.as('county.xihu'); // its confirmation task comes later
    expect((await county.get(`/api/cases/${c.id}`)).statusCode).toBe(404);
    // The supervisor of the region, the accepting window and the task holders see it.
    for (const username of ['supervisor.xihu', 'admin.xihu', 'clerk.beishan', 'verify.xihu', 'township.beishan']) {
      expect((await (await ctx.as(username)).get(`/api/cases/${c.id}`)).statusCode, username).toBe(200);
    }
    // Tracking is unchanged: reference and code.
    expect((await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}` })).statusCode).toBe(200);
  });

  it('keeps a department that held a task able to see the case after its task closed', async () => {
    const c = await openAccepted();
    const verify = await ctx.as('verify.xihu');
    const view = (await verify.get(`/api/cases/${c.id}`)).json();
    const task = view.openTasks.find((t: any) => t.stateId === 'sa.informationCheck');
    const done = await verify.post(`/api/tasks/${task.id}/complete`, { outcome: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 0, propertyWithinLimit: true } });
    expect(done.statusCode, done.body).toBe(200);
    const after = await verify.get(`/api/cases/${c.id}`);
    expect(after.statusCode).toBe(200);
    expect(allowed(after.json())).toEqual([]);
  });
});

describe('caller-aware actions (A5)', () => {
  it('lists for each caller only what they may send now; the system’s events never appear', async () => {
    const c = await openAccepted();
    const views = Object.fromEntries(
      await Promise.all(['verify.xihu', 'township.beishan', 'clerk.beishan', 'supervisor.xihu'].map(async (u) => [u, (await (await ctx.as(u)).get(`/api/cases/${c.id}`)).json()])),
    );
    expect(allowed(views['verify.xihu'])).toEqual(['VERIFICATION_COMPLETED']);
    expect(actionsByTask(views['verify.xihu'])).toEqual({ 'sa.informationCheck': ['VERIFICATION_COMPLETED'], 'sa.homeVisit': [] });
    expect(allowed(views['township.beishan'])).toEqual(['HOME_VISIT_COMPLETED']);
    expect(actionsByTask(views['township.beishan'])).toEqual({ 'sa.informationCheck': [], 'sa.homeVisit': ['HOME_VISIT_COMPLETED'] });
    expect(allowed(views['clerk.beishan'])).toEqual(['WITHDRAW']);
    expect(actionsByTask(views['clerk.beishan'])).toEqual({ 'sa.informationCheck': [], 'sa.homeVisit': [] });
    expect(allowed(views['supervisor.xihu'])).toEqual([]);
    expect(actionsByTask(views['supervisor.xihu'])).toEqual({ 'sa.informationCheck': [], 'sa.homeVisit': [] });

    // The transition result is for its caller too.
    const township = await ctx.as('township.beishan');
    const task = views['township.beishan'].openTasks.find((t: any) => t.stateId === 'sa.homeVisit');
    const result = (await township.post(`/api/tasks/${task.id}/complete`, { outcome: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '属实' } })).json();
    expect(result.allowedEvents).toEqual([]);
    expect(actionsByTask(result)).toEqual({ 'sa.informationCheck': [] });

    // In 补正 the clerk sees receipt and withdrawal, never the system's expiry.
    const clerk = await ctx.as('clerk.beishan');
    const other = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
    const supplement = (await clerk.post(`/api/cases/${other.id}/events`, { type: 'REQUEST_SUPPLEMENT', data: { missingMaterials: ['id-hukou'] }, expectedVersion: 1 })).json();
    expect(allowed(supplement)).toEqual(['SUPPLEMENT_RECEIVED', 'WITHDRAW']);
  });

  it('shows an inbox task’s actions to its holder and a claimed task’s only to its assignee', async () => {
    const c = await openAccepted();
    const township = await ctx.as('township.beishan');
    const inbox = (await township.get('/api/tasks?pageSize=200')).json().items.filter((t: any) => t.caseId === c.id);
    expect(inbox.map((t: any) => [t.stateId, t.actions.map((a: any) => a.type)])).toEqual([['sa.homeVisit', ['HOME_VISIT_COMPLETED']]]);
    expect((await township.post(`/api/tasks/${inbox[0].id}/claim`)).statusCode).toBe(204);
    await db()('users').insert({ id: crypto.randomUUID(), username: 'township.beishan2', password_hash: (await db()('users').where({ username: 'township.beishan' }).first()).password_hash, display_name: '同事', region_code: '330106001', department: 'township-civil-affairs', roles: ['reviewer'] });
    const colleague = await ctx.as('township.beishan2');
    const seen = (await colleague.get(`/api/cases/${c.id}`)).json();
    expect(actionsByTask(seen)['sa.homeVisit']).toEqual([]);
    expect(allowed(seen)).toEqual([]);
    expect(actionsByTask((await township.get(`/api/cases/${c.id}`)).json())['sa.homeVisit']).toEqual(['HOME_VISIT_COMPLETED']);
  });
});

describe('incomes (暂行办法 art. 61)', () => {
  it('shows the household\'s incomes to the window and the departments that handle the case, not to its supervisors and admins', async () => {
    const c = await openAccepted();
    const verify = await ctx.as('verify.xihu');
    const task = (await verify.get(`/api/cases/${c.id}`)).json().openTasks.find((t: any) => t.actions.some((a: any) => a.type === 'VERIFICATION_COMPLETED'));
    const done = await verify.post(`/api/tasks/${task.id}/complete`, { outcome: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true } });
    expect(done.statusCode, done.body).toBe(200);
    const incomes = (body: string) => body.match(/IncomeFen/g)?.length ?? 0;
    for (const username of ['clerk.beishan', 'township.beishan', 'verify.xihu']) {
      const view = await (await ctx.as(username)).get(`/api/cases/${c.id}`);
      expect(view.json().application.monthlyHouseholdIncomeFen, username).toBe(120000);
      expect(view.json().history.find((h: any) => h.type === 'VERIFICATION_COMPLETED').payload.verifiedMonthlyIncomeFen, username).toBe(100000);
    }
    for (const username of ['supervisor.xihu', 'admin.xihu']) {
      const view = await (await ctx.as(username)).get(`/api/cases/${c.id}`);
      expect(view.statusCode, username).toBe(200);
      expect(incomes(view.body), username).toBe(0);
      // The rest of what they oversee stays: the household size, the property check, the history.
      expect(view.json().application.householdSize, username).toBe(3);
      expect(view.json().history.find((h: any) => h.type === 'VERIFICATION_COMPLETED').payload, username).toEqual({ propertyWithinLimit: true });
    }
  });
});
