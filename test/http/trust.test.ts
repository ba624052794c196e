import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { loggerOptions } from '../../src/http/logging.ts';
import { upsertRegion } from '../../src/db/regions.ts';
import { upsertUser } from '../../src/db/users.ts';
import { hashPassword } from '../../src/identity.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

const ctx = useTestApp();
const db = () => ctx.database.db;

async function openCase(clerk = 'clerk.beishan') {
  const res = await (await ctx.as(clerk)).post('/api/cases', { procedureId: 'social-assistance', applicant, application });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; reference: string; trackingCode: string };
}

async function act(user: string, caseId: string, outcome: string, data: object = {}) {
  const c = await ctx.as(user);
  const task = (await c.get(`/api/cases/${caseId}`)).json().openTasks.find((t: any) => t.actions.some((a: any) => a.type === outcome));
  const res = await c.post(`/api/tasks/${task.id}/complete`, { outcome, data });
  expect(res.statusCode, res.body).toBe(200);
  return task.id as string;
}

/** A case approved and waiting for its first payment. */
async function approvedCase() {
  const c = await openCase('clerk.xixi');
  await act('clerk.xixi', c.id, 'ACCEPT');
  await act('verify.xihu', c.id, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true });
  await act('township.xixi', c.id, 'HOME_VISIT_COMPLETED', { visitors: ['周丽', '马超'], findings: '属实' });
  await act('township.xixi', c.id, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 60000 });
  await act('township.xixi', c.id, 'PUBLIC_NOTICE_ENDED');
  await act('township.xixi', c.id, 'APPROVE', { monthlyAmountFen: 60000, startMonth: '2026-04' });
  return c;
}

describe('tamper-evident audit trail', () => {
  it('verifies an intact chain and names exactly the row edited behind the application’s back', async () => {
    const c = await approvedCase();
    const supervisor = await ctx.as('supervisor.xihu');
    const intact = (await supervisor.get(`/api/cases/${c.id}/audit/verify`)).json();
    expect(intact).toMatchObject({ valid: true, events: 7, algorithm: 'SM3', firstBroken: null });

    const target = await db()('case_events').where({ case_id: c.id, seq: 4 }).first();
    await ctx.database.asOwner((owner) =>
      owner('case_events').where({ id: target.id }).update({ payload: JSON.stringify({ visitors: ['周丽', '马超'], findings: '不属实' }) }),
    );
    const broken = (await supervisor.get(`/api/cases/${c.id}/audit/verify`)).json();
    expect(broken.valid).toBe(false);
    expect(broken.firstBroken).toMatchObject({ seq: 4, id: String(target.id), reason: 'content does not match its hash' });
    // Reviewers cannot run the audit.
    expect((await (await ctx.as('township.xixi')).get(`/api/cases/${c.id}/audit/verify`)).statusCode).toBe(403);

    if (ctx.database.url) {
      // npm run audit:verify over every case names the broken one and fails.
      const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/audit-verify.ts'], {
          env: { ...process.env, DATABASE_URL: ctx.database.url, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let stdout = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.on('exit', (code) => resolve({ code, stdout }));
      });
      expect(out.code).toBe(1);
      expect(out.stdout).toContain(`BROKEN ${c.reference} (${c.id}): event seq 4 id ${target.id}`);
    }
  });

  it('does not let the application role rewrite or delete event-log rows', async () => {
    const c = await openCase();
    await expect(db()('case_events').where({ case_id: c.id }).update({ type: 'FORGED' })).rejects.toThrow(/permission denied/);
    await expect(db()('case_events').where({ case_id: c.id }).delete()).rejects.toThrow(/permission denied/);
    await expect(db().raw('truncate case_events cascade')).rejects.toThrow(/permission denied|must be owner/);
  });
});

describe('idempotent commands', () => {
  it('pays once when a payment command is retried 10 times concurrently with one key', async () => {
    const c = await approvedCase();
    const county = await ctx.as('county.xihu');
    const task = (await county.get(`/api/cases/${c.id}`)).json().openTasks.find((t: any) => t.stateId === 'sa.awaitingPayment');
    const body = { outcome: 'PAY_MONTH', data: { period: '2026-04' } };
    const headers = { authorization: `Bearer ${county.token}`, 'idempotency-key': `pay-${c.id}-2026-04` };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => ctx.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/complete`, headers, payload: body })),
    );
    expect(results.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(new Set(results.map((r) => r.body)).size).toBe(1);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(await db()('payments').where({ case_id: c.id })).toHaveLength(1);
    expect(await db()('case_events').where({ case_id: c.id, type: 'PAY_MONTH' })).toHaveLength(1);

    const reused = await ctx.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/complete`, headers, payload: { ...body, data: { period: '2026-05' } } });
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    const badKey = await ctx.app.inject({ method: 'POST', url: `/api/tasks/${task.id}/complete`, headers: { ...headers, 'idempotency-key': 'has space' }, payload: body });
    expect(badKey.statusCode).toBe(400);
  });

  it('replays the original 201 of a retried case creation instead of opening a second case', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const send = () =>
      ctx.app.inject({ method: 'POST', url: '/api/cases', headers: { authorization: `Bearer ${clerk.token}`, 'idempotency-key': 'window-7-ticket-42' }, payload: { procedureId: 'social-assistance', applicant, application } });
    const first = await send();
    const second = await send();
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.json()).toEqual(first.json());
    expect(await db()('cases').where({ id: first.json().id })).toHaveLength(1);
  });
});

describe('regions', () => {
  it('keeps every list and detail endpoint to the caller’s region', async () => {
    const hash = await hashPassword(DEMO_PASSWORD);
    await upsertRegion(db(), { code: '330108', name: '滨江区（演示）', parent_code: null, settings: {} });
    await upsertRegion(db(), { code: '330108001', name: '西兴街道（演示）', parent_code: '330108', settings: {} });
    const other = [
      ['other.clerk', '330108001', 'township-window', 'clerk'],
      ['other.township', '330108001', 'township-civil-affairs', 'reviewer'],
      ['other.verify', '330108', 'county-verification', 'reviewer'],
      ['other.supervisor', '330108', 'county-civil-affairs', 'supervisor'],
      ['other.admin', '330108', 'administration', 'admin'],
    ];
    for (const [username, region_code, department, role] of other) {
      await upsertUser(db(), { id: crypto.randomUUID(), username, password_hash: hash, display_name: username, region_code, department, roles: [role] });
    }
    const c = await openCase();
    await act('clerk.beishan', c.id, 'ACCEPT');
    const task = (await db()('tasks').where({ case_id: c.id, state_id: 'sa.informationCheck' }).first()).id;
    const verify = await ctx.as('other.verify');
    const supervisor = await ctx.as('other.supervisor');
    const clerk = await ctx.as('other.clerk');

    for (const [who, url] of [
      [verify, `/api/cases/${c.id}`],
      [supervisor, `/api/cases/${c.id}`],
      [clerk, `/api/cases/${c.id}/personal-data`],
      [supervisor, `/api/cases/${c.id}/audit/verify`],
    ] as const) {
      expect((await who.get(url)).statusCode, url).toBe(404);
    }
    expect((await verify.post(`/api/tasks/${task}/claim`)).statusCode).toBe(404);
    expect((await verify.post(`/api/tasks/${task}/complete`, { outcome: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true } })).statusCode).toBe(404);
    expect((await clerk.post(`/api/cases/${c.id}/events`, { type: 'WITHDRAW', data: { reason: '越权撤回' }, expectedVersion: 2 })).statusCode).toBe(404);
    expect((await verify.get('/api/tasks?pageSize=200')).json().items).toEqual([]);
    expect((await supervisor.get('/api/supervision')).json().departments).toEqual([]);
    const adminPut = await ctx.app.inject({
      method: 'PUT',
      url: '/api/admin/calendars/2026',
      headers: { authorization: `Bearer ${(await ctx.as('other.admin')).token}` },
      payload: { regionCode: '330106', source: '越权', holidays: [], workdays: [] },
    });
    expect(adminPut.statusCode).toBe(403);

    // And the other way round: the other county's case is invisible here.
    const theirs = await openCase('other.clerk');
    expect((await (await ctx.as('supervisor.xihu')).get(`/api/cases/${theirs.id}`)).statusCode).toBe(404);
    expect((await (await ctx.as('verify.xihu')).get('/api/tasks?pageSize=200')).json().items.map((t: any) => t.caseId)).not.toContain(theirs.id);
    // A county user whose department holds a task sees its townships' cases.
    expect((await (await ctx.as('verify.xihu')).get(`/api/cases/${c.id}`)).statusCode).toBe(200);
  });
});

describe('personal data', () => {
  it('is encrypted at rest, masked in views, and shown in full only to entitled roles, with the access logged', async () => {
    const c = await openCase();
    await act('clerk.beishan', c.id, 'ACCEPT');
    const stored = await db()('cases').where({ id: c.id }).first();
    expect(JSON.stringify(stored)).not.toContain(applicant.idNumber);
    expect(JSON.stringify(stored)).not.toContain(applicant.bankCard);
    expect(stored.applicant.idNumber).toMatch(/^enc:v1:test:/);

    const view = (await (await ctx.as('supervisor.xihu')).get(`/api/cases/${c.id}`)).json();
    expect(view.applicant).toMatchObject({ idNumber: '110***********002X', bankCard: '***************3445', phone: '138****8000' });

    const verify = await ctx.as('verify.xihu'); // holds the 信息核对 task: needs the full ID
    const full = await verify.get(`/api/cases/${c.id}/personal-data`);
    expect(full.statusCode).toBe(200);
    expect(full.json().applicant).toMatchObject({ idNumber: applicant.idNumber, bankCard: applicant.bankCard });
    const medical = await ctx.as('medical.xihu'); // no task on this case: it does not exist for them
    expect((await medical.get(`/api/cases/${c.id}/personal-data`)).json().code).toBe('NOT_FOUND');
    const supervisor = await ctx.as('supervisor.xihu'); // sees the case, masked, but needs no full ID
    expect((await supervisor.get(`/api/cases/${c.id}/personal-data`)).json().code).toBe('NOT_ENTITLED');
    const log = await db()('personal_data_access').where({ case_id: c.id });
    expect(log.map((l: any) => l.user_id)).toEqual([(await db()('users').where({ username: 'verify.xihu' }).first()).id]);
  });

  it('never writes a full ID number or bank card into the service log', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const app = await buildApp(
      { db: db(), engine: ctx.engine, sessionHours: 1 },
      { logger: loggerOptions('trace', stream) },
    );
    try {
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: DEMO_PASSWORD } });
      const auth = { authorization: `Bearer ${login.json().token}` };
      const created = await app.inject({ method: 'POST', url: '/api/cases', headers: auth, payload: { procedureId: 'social-assistance', applicant, application } });
      const id = created.json().id;
      await app.inject({ method: 'GET', url: `/api/cases/${id}`, headers: auth });
      await app.inject({ method: 'GET', url: `/api/cases/${id}/personal-data`, headers: auth });
      await app.inject({ method: 'POST', url: '/api/cases', headers: auth, payload: { procedureId: 'social-assistance', applicant: { ...applicant, phone: 'bad' }, application } });
      await app.inject({ method: 'GET', url: `/api/track/${created.json().reference}?code=${created.json().trackingCode}` });
    } finally {
      await app.close();
    }
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(5);
    expect(log).not.toContain(applicant.idNumber);
    expect(log).not.toContain(applicant.bankCard);
    expect(log).not.toContain(DEMO_PASSWORD);
  });
});
