import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 8: the window's written documents as data — 一次性告知书 (GET /api/cases/{id}/notices/supplement)
// and 不予受理通知书 (…/notices/rejection): content, roles and need to know.
const ctx = useTestApp();

async function openCase(name = applicant.name) {
  const clerk = await ctx.as('clerk.beishan');
  const res = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant: { ...applicant, name }, application });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; reference: string; version: number };
}

async function send(id: string, type: string, data: object, expectedVersion: number) {
  const res = await (await ctx.as('clerk.beishan')).post(`/api/cases/${id}/events`, { type, data, expectedVersion });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('一次性告知书 (supplement notice)', () => {
  it('lists every missing material by name, the end of the 补正 period in China time, the legal basis and what happens when it passes', async () => {
    const c = await openCase();
    await send(c.id, 'REQUEST_SUPPLEMENT', { missingMaterials: ['income-declaration', 'verification-authorization'], note: '收入申报须全体家庭成员签字' }, 1);
    const res = await (await ctx.as('clerk.beishan')).get(`/api/cases/${c.id}/notices/supplement`);
    expect(res.statusCode, res.body).toBe(200);
    const notice = res.json();
    // The open supplement task's due date is the deadline printed.
    const view = (await (await ctx.as('clerk.beishan')).get(`/api/cases/${c.id}`)).json();
    const task = view.openTasks.find((t: any) => t.stateId === 'sa.supplement');
    expect(task.timeLimit).toMatchObject({ days: 30, unit: 'CD' });
    expect(notice).toMatchObject({
      kind: 'supplement',
      title: '一次性告知书',
      reference: c.reference,
      procedureName: '最低生活保障（低保）申请',
      applicant: { name: applicant.name, idNumber: '110***********002X' },
      issuer: { name: '北山街道（演示）乡镇（街道）便民服务窗口', department: 'township-window', regionCode: '330106001' },
      clerk: '北山街道窗口 王敏',
      issuedOn: '2026年3月2日',
      submittedOn: '2026年3月2日',
      round: 1,
      missingMaterials: [
        { code: 'income-declaration', name: '家庭收入和财产状况申报', required: true },
        { code: 'verification-authorization', name: '家庭经济状况核对授权书', required: true },
      ],
      note: '收入申报须全体家庭成员签字',
      deadline: { dueAt: task.dueAt, text: task.deadlineText, timeLimit: { days: 30, unit: 'CD' } },
      status: 'awaiting',
    });
    expect(notice.deadline.text).toBe('2026年4月1日前');
    expect(notice.legalBasis.join('')).toContain('行政许可法》第三十二条');
    expect(notice.legalBasis.join('')).toContain('一次告知申请人需要补正的全部内容');
    expect(notice.procedureBasis.join('、')).toContain('社会救助暂行办法');
    expect(notice.clockStopped).toContain('补正期间不计入办理时限');
    expect(notice.onExpiry).toContain('逾期未补正');
  });

  it('reprints the latest round with the period it had, and says when the materials came in', async () => {
    const c = await openCase();
    await send(c.id, 'REQUEST_SUPPLEMENT', { missingMaterials: ['application-form'] }, 1);
    await send(c.id, 'SUPPLEMENT_RECEIVED', {}, 2);
    ctx.clock.advance(86_400_000);
    try {
      await send(c.id, 'REQUEST_SUPPLEMENT', { missingMaterials: ['id-hukou'] }, 3);
      const clerk = await ctx.as('clerk.beishan');
      const second = (await clerk.get(`/api/cases/${c.id}/notices/supplement`)).json();
      expect(second).toMatchObject({ round: 2, missingMaterials: [{ code: 'id-hukou', name: '居民身份证、户口簿' }], issuedOn: '2026年3月3日', status: 'awaiting', note: null });
      expect(second.deadline.text).toBe('2026年4月2日前');
      await send(c.id, 'SUPPLEMENT_RECEIVED', {}, 4);
      const after = (await clerk.get(`/api/cases/${c.id}/notices/supplement`)).json();
      expect(after).toMatchObject({ round: 2, status: 'received', deadline: { dueAt: second.deadline.dueAt } });
      // A case that was never refused has no 不予受理通知书.
      const none = await clerk.get(`/api/cases/${c.id}/notices/rejection`);
      expect(none.statusCode).toBe(404);
      expect(none.json()).toMatchObject({ code: 'NOTICE_NOT_ISSUED', message: '该办件未作出不予受理决定，没有不予受理通知书' });
    } finally {
      ctx.clock.current = new Date('2026-03-02T01:30:00Z');
    }
  });
});

describe('一次性告知书 without a date', () => {
  it('reads 预计 with the caveat when the period ends in a year whose holidays are not loaded, never a code', async () => {
    // 30 calendar days from 2026-12-10 end in January 2027, and the period moves to a working day: the 2027 calendar is needed,
    // so the provisional one (statutory holidays and 补假) gives the date.
    ctx.clock.current = new Date('2026-12-10T02:00:00Z');
    try {
      const c = await openCase();
      await send(c.id, 'REQUEST_SUPPLEMENT', { missingMaterials: ['application-form'] }, 1);
      const res = await (await ctx.as('clerk.beishan')).get(`/api/cases/${c.id}/notices/supplement`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().deadline).toMatchObject({ dueAt: expect.stringMatching(/^2027-01-/), text: expect.stringMatching(/^预计 2027年1月\d+日前（以国务院公布的节假日安排为准）$/) });
      expect(res.body).not.toContain('CALENDAR_YEAR_MISSING');
    } finally {
      ctx.clock.current = new Date('2026-03-02T01:30:00Z');
    }
  });
});

describe('不予受理通知书 (rejection notice)', () => {
  it("carries the reasons, the legal basis and the applicant's remedies", async () => {
    const c = await openCase('李小龙');
    await send(c.id, 'REJECT_APPLICATION', { reason: '申请人户籍不在本街道，请向户籍所在地街道申请' }, 1);
    const clerk = await ctx.as('clerk.beishan');
    const res = await clerk.get(`/api/cases/${c.id}/notices/rejection`);
    expect(res.statusCode, res.body).toBe(200);
    const notice = res.json();
    expect(notice).toMatchObject({
      kind: 'rejection',
      title: '不予受理通知书',
      reference: c.reference,
      applicant: { name: '李小龙' },
      reason: '申请人户籍不在本街道，请向户籍所在地街道申请',
      issuedOn: '2026年3月2日',
      issuer: { name: '北山街道（演示）乡镇（街道）便民服务窗口' },
    });
    expect(notice.remedy).toMatch(/60日内申请行政复议.*6个月内提起行政诉讼/);
    expect(notice.legalBasis.join('')).toContain('不予受理行政许可申请，应当出具加盖本行政机关专用印章和注明日期的书面凭证');
    const none = await clerk.get(`/api/cases/${c.id}/notices/supplement`);
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe('NOTICE_NOT_ISSUED');
  });
});

describe('who may read the documents', () => {
  it('the window, supervisors and admins of the region; other windows and departments see nothing, reviewers are refused by role', async () => {
    const c = await openCase();
    await send(c.id, 'REQUEST_SUPPLEMENT', { missingMaterials: ['application-form'] }, 1);
    const url = `/api/cases/${c.id}/notices/supplement`;
    for (const username of ['clerk.beishan', 'supervisor.xihu', 'admin.xihu']) {
      expect((await (await ctx.as(username)).get(url)).statusCode, username).toBe(200);
    }
    // Another township's window and a county window of another department: as if the case did not exist.
    for (const username of ['clerk.xixi', 'registry.xihu', 'socialorg.clerk']) {
      const res = await (await ctx.as(username)).get(url);
      expect(res.statusCode, username).toBe(404);
      expect(res.json().code, username).toBe('NOT_FOUND');
      expect(res.body, username).not.toContain(c.reference);
    }
    // Reviewers — involved or not — are refused before anything about the case is looked up.
    for (const username of ['police.xihu', 'township.beishan']) {
      const res = await (await ctx.as(username)).get(url);
      expect(res.statusCode, username).toBe(403);
      expect(res.json().code, username).toBe('ROLE_REQUIRED');
    }
    // An unknown case and a malformed id are 404 too.
    const clerk = await ctx.as('clerk.beishan');
    expect((await clerk.get('/api/cases/00000000-0000-4000-8000-000000000000/notices/supplement')).json().code).toBe('NOT_FOUND');
    expect((await clerk.get('/api/cases/not-a-case/notices/rejection')).statusCode).toBe(404);
    expect((await ctx.app.inject({ method: 'GET', url })).statusCode).toBe(401);
  });

  it('is described in the OpenAPI document with its error codes', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/docs/json' })).json();
    for (const [path, id] of [['/api/cases/{id}/notices/supplement', 'getSupplementNotice'], ['/api/cases/{id}/notices/rejection', 'getRejectionNotice']]) {
      const op = doc.paths[path].get;
      expect(op.operationId).toBe(id);
      expect(op.description).toMatch(/Who:/);
      expect(op['x-error-codes']).toEqual(expect.arrayContaining(['NOT_FOUND', 'NOTICE_NOT_ISSUED', 'ROLE_REQUIRED']));
    }
    expect(doc.components.schemas.SupplementNotice.required).toEqual(expect.arrayContaining(['missingMaterials', 'deadline', 'legalBasis', 'reference']));
    expect(doc.components.schemas.RejectionNotice.required).toEqual(expect.arrayContaining(['reason', 'remedy', 'legalBasis', 'reference']));
  });
});
