import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

const ctx = useTestApp();

async function openAccepted() {
  const clerk = await ctx.as('clerk.beishan');
  const created = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
  const accepted = await clerk.post(`/api/cases/${created.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  expect(accepted.statusCode, accepted.body).toBe(200);
  return { ...created, view: accepted.json() };
}

const taskFor = (view: any, department: string) => view.openTasks.find((t: any) => t.department === department);

async function dbCounts(caseId: string) {
  const { db } = ctx.database;
  const [{ n: events }] = await db('case_events').where({ case_id: caseId }).count({ n: '*' });
  const c = await db('cases').where({ id: caseId }).first();
  const tasks = await db('tasks').where({ case_id: caseId }).select('id', 'status').orderBy('id');
  return { events: Number(events), version: c.version, snapshot: JSON.stringify(c.snapshot), tasks };
}

describe('commands on a case', () => {
  it('refuses a stale expectedVersion with 409 and changes nothing', async () => {
    const { id } = await openAccepted();
    const before = await dbCounts(id);
    const township = await ctx.as('township.beishan');
    const res = await township.post(`/api/cases/${id}/events`, {
      type: 'HOME_VISIT_COMPLETED',
      data: { visitors: ['陈刚', '刘洋'], findings: '情况属实' },
      expectedVersion: 1,
    });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'VERSION_CONFLICT', details: { expectedVersion: 1, currentVersion: 2 } });
    expect(await dbCounts(id)).toEqual(before);
  });

  it('lets exactly one of two concurrent completions of a task win', async () => {
    const { id, view } = await openAccepted();
    const task = taskFor(view, 'township-civil-affairs');
    const township = await ctx.as('township.beishan');
    const body = { outcome: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '情况属实' } };
    const results = await Promise.all([
      township.post(`/api/tasks/${task.id}/complete`, body),
      township.post(`/api/tasks/${task.id}/complete`, body),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    // The loser waited for the winner's lock (TASK_NOT_OPEN), or — when the machine is so loaded
    // that the wait passes the 1 s lock timeout — was told to retry (CASE_BUSY, Retry-After).
    const loser = results.find((r) => r.statusCode === 409)!;
    expect(['TASK_NOT_OPEN', 'CASE_BUSY']).toContain(loser.json().code);
    if (loser.json().code === 'CASE_BUSY') expect(loser.headers['retry-after']).toBeDefined();
    const after = await dbCounts(id);
    expect(after.version).toBe(3);
    expect(after.events).toBe(3);
  });

  it('lets exactly one of two racing events with the same expectedVersion win', async () => {
    const { id } = await openAccepted();
    const verify = await ctx.as('verify.xihu');
    const township = await ctx.as('township.beishan');
    const results = await Promise.all([
      verify.post(`/api/cases/${id}/events`, { type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true }, expectedVersion: 2 }),
      township.post(`/api/cases/${id}/events`, { type: 'HOME_VISIT_COMPLETED', data: { visitors: ['a', 'b'], findings: '属实' }, expectedVersion: 2 }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect((await dbCounts(id)).version).toBe(3);
  });

  it("refuses a reviewer of another department with 403", async () => {
    const { id, view } = await openAccepted();
    const before = await dbCounts(id);
    // The township holds a task on the case, so it sees it, but the verification task is not its own.
    const township = await ctx.as('township.beishan');
    const medical = await ctx.as('medical.xihu');
    const task = taskFor(view, 'county-verification');
    const viaTask = await township.post(`/api/tasks/${task.id}/complete`, {
      outcome: 'VERIFICATION_COMPLETED',
      data: { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true },
    });
    expect(viaTask.statusCode).toBe(403);
    expect(viaTask.json().code).toBe('NOT_YOUR_DEPARTMENT');
    const viaEvent = await township.post(`/api/cases/${id}/events`, {
      type: 'VERIFICATION_COMPLETED',
      data: { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true },
      expectedVersion: 2,
    });
    expect(viaEvent.statusCode).toBe(403);
    // A department with no task on the case does not see it at all (need to know).
    const unseen = await medical.post(`/api/cases/${id}/events`, {
      type: 'VERIFICATION_COMPLETED',
      data: { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true },
      expectedVersion: 2,
    });
    expect(unseen.statusCode).toBe(404);
    // A clerk may not confirm, and a reviewer may not open cases.
    const open = await medical.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
    expect(open.statusCode).toBe(403);
    expect(await dbCounts(id)).toEqual(before);
  });

  it('hides the task inbox of other departments', async () => {
    const { id } = await openAccepted();
    const medical = await ctx.as('medical.xihu');
    const inbox = (await medical.get('/api/tasks?pageSize=200')).json();
    expect(inbox.items.filter((t: any) => t.caseId === id)).toEqual([]);
    const verify = (await (await ctx.as('verify.xihu')).get('/api/tasks?pageSize=200')).json();
    expect(verify.items.filter((t: any) => t.caseId === id).map((t: any) => t.title)).toEqual(['家庭经济状况信息核对']);
    expect(verify.items[0].applicantName).not.toBe(applicant.name);
  });

  it('answers invalid payloads with 422 and field-level messages, changing nothing', async () => {
    const { id, view } = await openAccepted();
    const before = await dbCounts(id);
    const township = await ctx.as('township.beishan');
    const res = await township.post(`/api/tasks/${taskFor(view, 'township-civil-affairs').id}/complete`, {
      outcome: 'HOME_VISIT_COMPLETED',
      data: { visitors: ['陈刚'], findings: 42, extra: 'x' },
    });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('INVALID_EVENT_DATA');
    const paths = body.details.map((d: any) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['visitors', 'findings']));
    expect(body.details.find((d: any) => d.path === 'visitors').message).toBe('入户调查须两名以上工作人员');
    expect(await dbCounts(id)).toEqual(before);

    const clerk = await ctx.as('clerk.beishan');
    const bad = await clerk.post('/api/cases', {
      procedureId: 'social-assistance',
      applicant: { ...applicant, idNumber: '110105194912310021' },
      application: { ...application, householdSize: 0 },
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().details.map((d: any) => d.path).sort()).toEqual(['applicant.idNumber', 'application.householdSize']);
    expect(bad.json().details[0].message).toBe('身份证号码格式或校验位不正确');
    // A required field left out says so, in words a clerk reads (not "实际接收 undefined").
    const { householdSize: _omitted, ...withoutSize } = application;
    const missing = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application: withoutSize });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().details).toEqual([{ path: 'application.householdSize', message: '此项为必填项' }]);

    const shape = await clerk.post(`/api/cases/${id}/events`, { type: 'ACCEPT' });
    expect(shape.statusCode).toBe(422);
    expect(shape.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'body.expectedVersion' }] });
  });

  it('refuses an event the current state does not accept with 409 and the allowed events', async () => {
    const { id } = await openAccepted();
    const county = await ctx.as('township.beishan');
    const res = await county.post(`/api/cases/${id}/events`, { type: 'APPROVE', data: { monthlyAmountFen: 1, startMonth: '2026-04' }, expectedVersion: 2 });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('EVENT_NOT_ALLOWED');
    // What this caller may send, not everything the state accepts.
    expect(res.json().details.allowedEvents.sort()).toEqual(['HOME_VISIT_COMPLETED']);
    const internal = await county.post(`/api/cases/${id}/events`, { type: 'xstate.init', data: {}, expectedVersion: 2 });
    expect(internal.statusCode).toBe(409);
    const proto = await county.post(`/api/cases/${id}/events`, { type: '__proto__', data: {}, expectedVersion: 2 });
    expect(proto.statusCode).toBe(409);
  });

  it('answers unknown ids with 404 and missing tokens with 401', async () => {
    const clerk = await ctx.as('clerk.beishan');
    expect((await clerk.get('/api/cases/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await clerk.get('/api/cases/not-a-uuid')).statusCode).toBe(404);
    // An id longer than the router takes, or a path that is not valid percent-encoding, gets the
    // API's own error shape in Chinese (not Fastify's English text echoing the path), signed in or not.
    for (const headers of [{ authorization: `Bearer ${clerk.token}` }, {}]) {
      for (const url of [`/api/tasks/${'a'.repeat(150)}/claim`, `/api/cases/${'a'.repeat(150)}/events`, `/api/admin/users/${'9'.repeat(150)}/disable`]) {
        const long = await ctx.app.inject({ method: 'POST', url, headers });
        expect(long.statusCode, long.body).toBe(404);
        expect(long.json()).toEqual({ code: 'NOT_FOUND', message: '未找到该资源' });
      }
      for (const url of ['/api/cases/%zz', '/api/tasks/%E0%A4%A/claim']) {
        const bad = await ctx.app.inject({ method: url.includes('claim') ? 'POST' : 'GET', url, headers });
        expect(bad.statusCode, bad.body).toBe(400);
        expect(bad.json()).toEqual({ code: 'BAD_URL', message: '请求地址格式有误' });
      }
    }
    const anon = await ctx.app.inject({ method: 'GET', url: '/api/tasks' });
    expect(anon.statusCode).toBe(401);
    expect(anon.json()).toEqual({ code: 'UNAUTHENTICATED', message: '请先登录' });
    const wrong = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: 'nope' } });
    expect(wrong.statusCode).toBe(401);
    const malformed = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"username":' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().code).toBeTypeOf('string');
  });

  it('ends a session at logout', async () => {
    const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'tax.xihu', password: 'OneWindow@2026' } });
    const headers = { authorization: `Bearer ${login.json().token}` };
    expect((await ctx.app.inject({ method: 'GET', url: '/api/auth/me', headers })).json().department).toBe('tax');
    expect((await ctx.app.inject({ method: 'POST', url: '/api/auth/logout', headers })).statusCode).toBe(204);
    expect((await ctx.app.inject({ method: 'GET', url: '/api/auth/me', headers })).statusCode).toBe(401);
  });

  it('never leaks whether a reference exists: wrong code and unknown reference look the same', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const created = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
    const wrongCode = await ctx.app.inject({ method: 'GET', url: `/api/track/${created.reference}?code=AAAAAAAA` });
    const unknown = await ctx.app.inject({ method: 'GET', url: `/api/track/DB-330106001-261123-9999-1?code=${created.trackingCode}` });
    const noCode = await ctx.app.inject({ method: 'GET', url: `/api/track/${created.reference}` });
    for (const res of [wrongCode, unknown, noCode]) {
      expect(res.statusCode).toBe(404);
      expect(res.body).toBe(wrongCode.body);
    }
    const right = await ctx.app.inject({ method: 'GET', url: `/api/track/${created.reference}?code=${created.trackingCode.toLowerCase()}` });
    expect(right.statusCode).toBe(200);
    expect(right.json().stage).toBe('已提交，待受理');
  });

  it('keeps a paid month from being paid twice, even past the chart', async () => {
    const { id } = await openAccepted();
    const { db } = ctx.database;
    const event = await db('case_events').where({ case_id: id }).first();
    await db('payments').insert({ case_id: id, period: '2026-04', amount_fen: 100, event_id: event.id, created_at: new Date() });
    await expect(
      db('payments').insert({ case_id: id, period: '2026-04', amount_fen: 100, event_id: event.id, created_at: new Date() }),
    ).rejects.toThrow(/unique|duplicate/i);
  });
});

describe('procedures and API description', () => {
  it('describes procedures with their states, tasks and time limits', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const list = (await clerk.get('/api/procedures')).json();
    expect(list.map((p: any) => p.id).sort()).toEqual(['destitute-support', 'funeral', 'marriage', 'social-assistance', 'social-organization', 'temporary-assistance']);
    const def = (await clerk.get('/api/procedures/social-assistance')).json();
    const states: any[] = [];
    const walk = (n: any) => (states.push(n), n.states.forEach(walk));
    walk(def.root);
    const countyConfirmation = states.find((s) => s.id === 'sa.countyConfirmation');
    expect(countyConfirmation.task).toMatchObject({ department: 'county-civil-affairs', role: 'reviewer', timeLimit: { days: 10, unit: 'WD' } });
    expect(def.diagram).toMatch(/^stateDiagram-v2\n/);
    expect(def.diagram).toContain('state "县级民政部门审核确认中" as sa_countyConfirmation');
    expect((await clerk.get('/api/procedures/nope')).statusCode).toBe(404);
  });

  it('serves an OpenAPI 3 document generated from the zod schemas', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/auth/login', '/api/cases', '/api/cases/{id}', '/api/cases/{id}/events', '/api/tasks', '/api/tasks/{id}/claim', '/api/tasks/{id}/complete', '/api/track/{reference}', '/api/procedures', '/api/procedures/{id}']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(doc.paths['/api/cases/{id}/events'].post.requestBody.content['application/json'].schema.required).toContain('expectedVersion');
    expect((await ctx.app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
  });
});
