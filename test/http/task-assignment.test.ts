import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { hashPassword } from '../../src/identity.ts';
import { upsertUser } from '../../src/db/users.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 9: 委派 (a holder hands a claimed task to a colleague of the same department) and 改派 (a
// supervisor of the region gives any live task to someone who may work it), both in the event log.
const ctx = useTestApp();
const db = () => ctx.database.db;
const userId = async (username: string) => (await db()('users').where({ username }).first()).id as string;

/** A 北山 低保 case just accepted: the township's 入户调查 task is open. */
async function acceptedCase(): Promise<{ caseId: string; homeVisit: any; reference: string; trackingCode: string }> {
  const clerk = await ctx.as('clerk.beishan');
  const created = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
  const accepted = await clerk.post(`/api/cases/${created.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  expect(accepted.statusCode, accepted.body).toBe(200);
  const homeVisit = accepted.json().openTasks.find((t: any) => t.title === '入户调查');
  return { caseId: created.id, homeVisit, reference: created.reference, trackingCode: created.trackingCode };
}

const history = async (caseId: string) => (await (await ctx.as('supervisor.xihu')).get(`/api/cases/${caseId}`)).json().history as any[];
const taskOf = async (caseId: string, taskId: string) => {
  const view = (await (await ctx.as('supervisor.xihu')).get(`/api/cases/${caseId}`)).json();
  return [...view.openTasks, ...view.closedTasks].find((t: any) => t.id === taskId);
};

beforeAll(async () => {
  // A disabled colleague, and a supervisor of the other township only.
  await upsertUser(db(), { id: randomUUID(), username: 'township3.beishan', password_hash: await hashPassword(DEMO_PASSWORD), display_name: '北山街道社会救助 离岗', region_code: '330106001', department: 'township-civil-affairs', roles: ['reviewer'] });
  await db()('users').where({ username: 'township3.beishan' }).update({ disabled_at: new Date() });
  await upsertUser(db(), { id: randomUUID(), username: 'supervisor.xixi', password_hash: await hashPassword(DEMO_PASSWORD), display_name: '西溪街道督办 孔明', region_code: '330106002', department: 'township-civil-affairs', roles: ['supervisor'] });
});

describe('委派 (delegate)', () => {
  it('lists only active colleagues of the department, role and region who may take it, without personal data', async () => {
    const { homeVisit } = await acceptedCase();
    const res = await (await ctx.as('township.beishan')).get(`/api/tasks/${homeVisit.id}/assignees`);
    expect(res.statusCode, res.body).toBe(200);
    const names = res.json().items.map((u: any) => u.displayName);
    // Both 北山 reviewers (nobody holds the task yet); not the disabled one, not 西溪's, not the supervisor.
    expect(names.sort()).toEqual(['北山街道社会救助 刘洋', '北山街道社会救助 陈刚'].sort());
    expect(Object.keys(res.json().items[0]).sort()).toEqual(['displayName', 'id']);
    // Another department may not pick people for it.
    expect((await (await ctx.as('verify.xihu')).get(`/api/tasks/${homeVisit.id}/assignees`)).json().code).toBe('NOT_YOUR_DEPARTMENT');
  });

  it('hands a claimed task to a colleague, who then works it; the event log names both and the reason', async () => {
    const { caseId, homeVisit } = await acceptedCase();
    const chen = await ctx.as('township.beishan');
    expect((await chen.post(`/api/tasks/${homeVisit.id}/claim`)).statusCode).toBe(204);
    const res = await chen.post(`/api/tasks/${homeVisit.id}/delegate`, { assignee: await userId('township2.beishan'), reason: '本人下周休假，转同事入户' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().task).toMatchObject({ id: homeVisit.id, status: 'claimed', assigneeId: await userId('township2.beishan'), actions: [] });

    // The former holder can no longer complete it; the colleague can.
    const data = { visitors: ['刘洋', '陈刚'], findings: '家庭情况属实' };
    const refused = await chen.post(`/api/tasks/${homeVisit.id}/complete`, { outcome: 'HOME_VISIT_COMPLETED', data });
    expect(refused.json().code).toBe('TASK_CLAIMED_BY_OTHER');
    const done = await (await ctx.as('township2.beishan')).post(`/api/tasks/${homeVisit.id}/complete`, { outcome: 'HOME_VISIT_COMPLETED', data });
    expect(done.statusCode, done.body).toBe(200);

    const logged = (await history(caseId)).find((h) => h.type === 'TASK_DELEGATED');
    expect(logged).toMatchObject({
      label: '任务委派',
      actor: '北山街道社会救助 陈刚',
      payload: { task: '入户调查', from: { name: '北山街道社会救助 陈刚' }, to: { name: '北山街道社会救助 刘洋' }, reason: '本人下周休假，转同事入户' },
    });
    // The hash chain still verifies.
    expect((await (await ctx.as('supervisor.xihu')).get(`/api/cases/${caseId}/audit/verify`)).json()).toMatchObject({ valid: true });
  });

  it('refuses a task the caller has not claimed, one a colleague holds, and a colleague who may not take it', async () => {
    const { homeVisit } = await acceptedCase();
    const chen = await ctx.as('township.beishan');
    const liu = await userId('township2.beishan');
    const body = { assignee: liu, reason: '工作调整' };
    expect((await chen.post(`/api/tasks/${homeVisit.id}/delegate`, body)).json().code).toBe('CLAIM_REQUIRED');

    expect((await chen.post(`/api/tasks/${homeVisit.id}/claim`)).statusCode).toBe(204);
    // Same department, but not the holder.
    const other = await (await ctx.as('township2.beishan')).post(`/api/tasks/${homeVisit.id}/delegate`, { assignee: await userId('township.beishan'), reason: '工作调整' });
    expect(other.statusCode).toBe(409);
    expect(other.json().code).toBe('TASK_CLAIMED_BY_OTHER');

    // Not of the same department, role and region, disabled, or the holder themself.
    for (const username of ['township.xixi', 'verify.xihu', 'clerk.beishan', 'township3.beishan', 'township.beishan']) {
      const res = await chen.post(`/api/tasks/${homeVisit.id}/delegate`, { assignee: await userId(username), reason: '工作调整' });
      expect(res.statusCode, username).toBe(422);
      expect(res.json()).toMatchObject({ code: 'INVALID_ASSIGNEE', details: [{ path: 'assignee' }] });
    }
    // A reason is required.
    expect((await chen.post(`/api/tasks/${homeVisit.id}/delegate`, { assignee: liu, reason: ' ' })).json().code).toBe('VALIDATION_FAILED');
    // Another department cannot delegate it; a township that cannot see the case gets 404.
    expect((await (await ctx.as('verify.xihu')).post(`/api/tasks/${homeVisit.id}/delegate`, body)).json().code).toBe('NOT_YOUR_DEPARTMENT');
    expect((await (await ctx.as('township.xixi')).post(`/api/tasks/${homeVisit.id}/delegate`, body)).statusCode).toBe(404);
    // Nothing was written by any refusal.
    expect(await taskOf((await db()('tasks').where({ id: homeVisit.id }).first()).case_id, homeVisit.id)).toMatchObject({ assigneeId: await userId('township.beishan') });
  });

  it('races a completion of the same task: exactly one wins, and the loser changes nothing', async () => {
    const { caseId, homeVisit } = await acceptedCase();
    const chen = await ctx.as('township.beishan');
    expect((await chen.post(`/api/tasks/${homeVisit.id}/claim`)).statusCode).toBe(204);
    const [delegated, completed] = await Promise.all([
      chen.post(`/api/tasks/${homeVisit.id}/delegate`, { assignee: await userId('township2.beishan'), reason: '临时外出' }),
      chen.post(`/api/tasks/${homeVisit.id}/complete`, { outcome: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '属实' } }),
    ]);
    expect([delegated.statusCode, completed.statusCode].sort()).toEqual([200, 409]);
    const task = await taskOf(caseId, homeVisit.id);
    const events = (await history(caseId)).map((h) => h.type);
    if (delegated.statusCode === 200) {
      expect(['TASK_CLAIMED_BY_OTHER', 'CASE_BUSY']).toContain(completed.json().code);
      expect(task).toMatchObject({ status: 'claimed', assigneeId: await userId('township2.beishan') });
      expect(events).not.toContain('HOME_VISIT_COMPLETED');
    } else {
      expect(['TASK_NOT_OPEN', 'CASE_BUSY']).toContain(delegated.json().code);
      expect(task.status).toBe('completed');
      expect(events).not.toContain('TASK_DELEGATED');
    }
  });
});

describe('改派 (reassign)', () => {
  it('lets a supervisor of the region give an unclaimed or claimed task to anyone who may work it, with the reason logged', async () => {
    const { caseId, homeVisit, reference, trackingCode } = await acceptedCase();
    const supervisor = await ctx.as('supervisor.xihu');
    const picks = (await supervisor.get(`/api/tasks/${homeVisit.id}/assignees`)).json().items.map((u: any) => u.displayName);
    expect(picks).toContain('北山街道社会救助 刘洋');

    let res = await supervisor.post(`/api/tasks/${homeVisit.id}/reassign`, { assignee: await userId('township2.beishan'), reason: '陈刚任务积压，督办改派' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().task).toMatchObject({ status: 'claimed', assigneeId: await userId('township2.beishan') });
    res = await supervisor.post(`/api/tasks/${homeVisit.id}/reassign`, { assignee: await userId('township.beishan'), reason: '刘洋病假' });
    expect(res.statusCode, res.body).toBe(200);

    const logged = (await history(caseId)).filter((h) => h.type === 'TASK_REASSIGNED');
    expect(logged.map((h) => [h.actor, h.payload.from?.name ?? null, h.payload.to.name, h.payload.reason])).toEqual([
      ['区民政局督办 赵芳', null, '北山街道社会救助 刘洋', '陈刚任务积压，督办改派'],
      ['区民政局督办 赵芳', '北山街道社会救助 刘洋', '北山街道社会救助 陈刚', '刘洋病假'],
    ]);
    // The citizen's timeline does not list who in the office works the case.
    const citizen = await ctx.app.inject({ method: 'GET', url: `/api/track/${reference}?code=${trackingCode}` });
    expect(citizen.statusCode, citizen.body).toBe(200);
    expect(citizen.json().timeline.map((t: any) => t.step)).toEqual(['申请已登记', '受理']);
  });

  it('is refused to a supervisor of another region (404), to reviewers whatever the body (403), and on a closed task', async () => {
    const { caseId, homeVisit } = await acceptedCase();
    const body = { assignee: await userId('township2.beishan'), reason: '督办改派' };
    const other = await (await ctx.as('supervisor.xixi')).post(`/api/tasks/${homeVisit.id}/reassign`, body);
    expect(other.statusCode).toBe(404);
    expect((await (await ctx.as('supervisor.xixi')).get(`/api/tasks/${homeVisit.id}/assignees`)).statusCode).toBe(404);
    for (const b of [body, {}, { assignee: 'nonsense' }]) {
      const res = await (await ctx.as('township.beishan')).post(`/api/tasks/${homeVisit.id}/reassign`, b);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('ROLE_REQUIRED');
    }
    // Someone who may not work it.
    const wrong = await (await ctx.as('supervisor.xihu')).post(`/api/tasks/${homeVisit.id}/reassign`, { assignee: await userId('verify.xihu'), reason: '督办改派' });
    expect(wrong.json().code).toBe('INVALID_ASSIGNEE');

    const chen = await ctx.as('township.beishan');
    expect((await chen.post(`/api/tasks/${homeVisit.id}/complete`, { outcome: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '属实' } })).statusCode).toBe(200);
    const closed = await (await ctx.as('supervisor.xihu')).post(`/api/tasks/${homeVisit.id}/reassign`, body);
    expect(closed.statusCode).toBe(409);
    expect(closed.json().code).toBe('TASK_NOT_OPEN');
    expect((await history(caseId)).some((h) => h.type === 'TASK_REASSIGNED')).toBe(false);
  });
});
