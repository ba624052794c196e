import { describe, expect, it } from 'vitest';
import { hashPassword, tokenHash } from '../../src/identity.ts';
import { upsertRegion } from '../../src/db/regions.ts';
import { upsertUser } from '../../src/db/users.ts';
import { DEMO_PASSWORD, DEMO_USERS } from '../../src/seed.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 13 B7: users can be stopped, at once; a user without roles gets nothing.
const ctx = useTestApp();
const db = () => ctx.database.db;

async function login(username: string, password = DEMO_PASSWORD) {
  return ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
}
async function tokenOf(username: string, password = DEMO_PASSWORD): Promise<string> {
  const res = await login(username, password);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().token;
}
const call = (token: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
const me = (token: string) => call(token, 'GET', '/api/auth/me');
const userId = async (username: string) => (await db()('users').where({ username }).first()).id as string;

async function addUser(username: string, region_code: string, department: string, roles: string[]) {
  await upsertUser(db(), { id: crypto.randomUUID(), username, password_hash: await hashPassword(DEMO_PASSWORD), display_name: username, region_code, department, roles });
}

describe('disabling a user', () => {
  it('refuses their tokens at once and their login, also after enabling for the old tokens', async () => {
    await addUser('temp.clerk', '330106001', 'township-window', ['clerk']);
    const [t1, t2] = [await tokenOf('temp.clerk'), await tokenOf('temp.clerk')];
    expect((await me(t1)).statusCode).toBe(200);
    const admin = await ctx.as('admin.xihu');
    const listed = (await admin.get('/api/admin/users?pageSize=200')).json();
    expect(listed.items.find((u: any) => u.username === 'temp.clerk')).toMatchObject({ disabled: false, activeSessions: 2 });

    const res = await admin.post(`/api/admin/users/${await userId('temp.clerk')}/disable`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ username: 'temp.clerk', disabled: true, activeSessions: 0 });
    for (const t of [t1, t2]) expect((await me(t)).json().code).toBe('UNAUTHENTICATED');
    expect(await db()('sessions').where({ user_id: await userId('temp.clerk') })).toEqual([]);

    const right = await login('temp.clerk');
    expect(right.statusCode).toBe(403);
    expect(right.json().code).toBe('ACCOUNT_DISABLED');
    const wrong = await login('temp.clerk', 'not-the-password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('INVALID_CREDENTIALS');

    // A disabled user's token fails even if a session row survived (written behind our back).
    const planted = 'planted-token-for-a-disabled-user';
    await db()('sessions').insert({ token_hash: tokenHash(planted), user_id: await userId('temp.clerk'), expires_at: new Date('2099-01-01') });
    expect((await me(planted)).statusCode).toBe(401);
    await db()('sessions').where({ token_hash: tokenHash(planted) }).delete();

    // Enabling lets them log in again; the revoked sessions stay revoked.
    const enabled = await admin.post(`/api/admin/users/${await userId('temp.clerk')}/enable`);
    expect(enabled.json()).toMatchObject({ disabled: false });
    expect((await me(t1)).statusCode).toBe(401);
    expect((await me(await tokenOf('temp.clerk'))).statusCode).toBe(200);
  });

  it('is for admins of the user’s region or above; others get 403, another county’s admin 404, and nobody disables themselves', async () => {
    await upsertRegion(db(), { code: '330108', name: '滨江区（演示）', parent_code: null, settings: {} });
    await addUser('binjiang.admin', '330108', 'administration', ['admin']);
    const target = await userId('clerk.xixi');
    const other = await tokenOf('binjiang.admin');
    expect((await call(other, 'POST', `/api/admin/users/${target}/disable`)).statusCode).toBe(404);
    expect((await call(other, 'GET', '/api/admin/users')).json().items.map((u: any) => u.username)).toEqual(['binjiang.admin']);
    const supervisor = await ctx.as('supervisor.xihu');
    const refused = await supervisor.post(`/api/admin/users/${target}/disable`);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('ROLE_REQUIRED');
    const admin = await ctx.as('admin.xihu');
    expect((await admin.post(`/api/admin/users/${await userId('admin.xihu')}/disable`)).json().code).toBe('CANNOT_DISABLE_SELF');
    expect((await me((await ctx.as('clerk.xixi')).token)).statusCode).toBe(200);
  });
});

describe('revoking sessions', () => {
  it('ends every session of the user; they may log in again', async () => {
    await addUser('temp.reviewer', '330106', 'tax', ['reviewer']);
    const tokens = [await tokenOf('temp.reviewer'), await tokenOf('temp.reviewer'), await tokenOf('temp.reviewer')];
    const admin = await ctx.as('admin.xihu');
    const res = await admin.post(`/api/admin/users/${await userId('temp.reviewer')}/revoke-sessions`);
    expect(res.json()).toEqual({ userId: await userId('temp.reviewer'), revokedSessions: 3 });
    for (const t of tokens) expect((await me(t)).statusCode).toBe(401);
    expect((await me(await tokenOf('temp.reviewer'))).statusCode).toBe(200);
  });
});

describe('changing one’s password', () => {
  it('revokes the user’s other sessions, keeps this one, and retires the old password', async () => {
    await addUser('temp.pw', '330106', 'tax', ['reviewer']);
    const [here, elsewhere] = [await tokenOf('temp.pw'), await tokenOf('temp.pw')];
    const res = await call(here, 'POST', '/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'Xihu#Window2027' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ revokedSessions: 1 });
    expect((await me(here)).statusCode).toBe(200);
    expect((await me(elsewhere)).statusCode).toBe(401);
    expect((await login('temp.pw')).statusCode).toBe(401);
    expect((await login('temp.pw', 'Xihu#Window2027')).statusCode).toBe(200);
  });

  it('refuses a weak password with field messages, and a wrong current password ends the session', async () => {
    await addUser('temp.pw2', '330106', 'tax', ['reviewer']);
    const token = await tokenOf('temp.pw2');
    const weak = await call(token, 'POST', '/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'short' });
    expect(weak.statusCode).toBe(422);
    expect(weak.json().details).toEqual([{ path: 'body.newPassword', message: '密码至少10位' }]);
    const same = await call(token, 'POST', '/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: DEMO_PASSWORD });
    expect(same.json().details[0].message).toBe('新密码不能与当前密码相同');
    const guess = await call(token, 'POST', '/api/auth/password', { currentPassword: 'Guess#12345', newPassword: 'Xihu#Window2027' });
    expect(guess.statusCode).toBe(422);
    expect(guess.json().code).toBe('WRONG_PASSWORD');
    expect((await me(token)).statusCode).toBe(401);
    expect((await login('temp.pw2')).statusCode).toBe(200); // the password did not change
  });

  it('answers a retry of a change that went through with its first answer, keeping the session', async () => {
    await addUser('temp.pw3', '330106', 'tax', ['reviewer']);
    const token = await tokenOf('temp.pw3');
    const body = { currentPassword: DEMO_PASSWORD, newPassword: 'Xihu#Window2027' };
    const send = () => ctx.app.inject({ method: 'POST', url: '/api/auth/password', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'pw-change-1' }, payload: body });
    const first = await send();
    expect(first.statusCode, first.body).toBe(200);
    // The answer was lost on the way; the client retries as docs/api.md says it may.
    const retry = await send();
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    expect((await me(token)).statusCode).toBe(200);
    expect((await login('temp.pw3', 'Xihu#Window2027')).statusCode).toBe(200);
    // The same key for another change is refused, not answered as done.
    const other = await ctx.app.inject({ method: 'POST', url: '/api/auth/password', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'pw-change-1' }, payload: { currentPassword: 'Xihu#Window2027', newPassword: 'Other#Window2027' } });
    expect(other.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await login('temp.pw3', 'Xihu#Window2027')).statusCode).toBe(200);
    // A wrong current password with the same key is still refused, and still ends the session.
    const guess = await ctx.app.inject({ method: 'POST', url: '/api/auth/password', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'pw-change-1' }, payload: { currentPassword: 'Guess#12345', newPassword: 'Other#Window2027' } });
    expect(guess.json().code).toBe('WRONG_PASSWORD');
    expect((await me(token)).statusCode).toBe(401);
  });
});

describe('a user without roles', () => {
  it('gets 403 ROLE_REQUIRED everywhere but who-am-I and logout', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const c = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
    await addUser('no.roles', '330106001', 'township-window', []);
    const token = await tokenOf('no.roles');
    const probes: Array<[method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown]> = [
      ['GET', '/api/tasks'],
      ['GET', `/api/cases/${c.id}`],
      ['GET', `/api/cases/${c.id}/personal-data`],
      ['GET', `/api/cases/${c.id}/audit/verify`],
      ['POST', `/api/cases/${c.id}/events`, { type: 'WITHDRAW', data: { reason: '试探' }, expectedVersion: 1 }],
      ['POST', '/api/cases', { procedureId: 'social-assistance', applicant, application }],
      ['POST', `/api/tasks/${c.id}/claim`],
      ['GET', '/api/procedures'],
      ['GET', '/api/supervision'],
      ['GET', '/api/admin/users'],
      ['GET', '/api/admin/calendars/2026'],
      ['POST', '/api/auth/password', { currentPassword: DEMO_PASSWORD, newPassword: 'Xihu#Window2027' }],
    ];
    for (const [method, url, body] of probes) {
      const res = await call(token, method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().code, `${method} ${url}`).toBe('ROLE_REQUIRED');
    }
    expect((await me(token)).json()).toMatchObject({ roles: [] });
    expect((await call(token, 'POST', '/api/auth/logout')).statusCode).toBe(204);
    expect((await me(token)).statusCode).toBe(401);
  });
});

describe('authorization before validation', () => {
  it('answers 403, not 422, to a malformed body from a caller whose role may not use the operation', async () => {
    const reviewer = await ctx.as('township.beishan');
    const open = await reviewer.post('/api/cases', { procedureId: 42, applicant: [[[]]] });
    expect(open.statusCode).toBe(403);
    expect(open.json().code).toBe('ROLE_REQUIRED');
    const supervisor = await ctx.as('supervisor.xihu');
    const event = await supervisor.post('/api/cases/00000000-0000-4000-8000-000000000000/events', { type: 7 });
    expect(event.statusCode).toBe(403);
    // Supervisors complete tasks (差评整改, 回访); an admin works no task.
    const admin = await ctx.as('admin.xihu');
    const complete = await admin.post('/api/tasks/00000000-0000-4000-8000-000000000000/complete', { outcome: [] });
    expect(complete.statusCode).toBe(403);
    const calendar = await ctx.app.inject({ method: 'PUT', url: '/api/admin/calendars/2027', headers: { authorization: `Bearer ${supervisor.token}` }, payload: { holidays: 'x' } });
    expect(calendar.statusCode).toBe(403);
    // The rightful caller with the same malformed body gets the field errors.
    expect((await (await ctx.as('clerk.beishan')).post('/api/cases', { procedureId: 42 })).statusCode).toBe(422);
  });

  it('holds on the typed per-procedure operations as on the generic ones', async () => {
    const none = '00000000-0000-4000-8000-000000000000';
    const admin = await ctx.as('admin.xihu');
    const supervisor = await ctx.as('supervisor.xihu');
    const grid = await ctx.as('grid.beishan');
    for (const procedure of ['social-assistance', 'marriage', 'funeral']) {
      for (const caller of [admin, supervisor, grid]) {
        const event = await caller.post(`/api/procedures/${procedure}/cases/${none}/events`, { type: 7 });
        expect(event.statusCode, event.body).toBe(403);
        expect(event.json().code).toBe('ROLE_REQUIRED');
      }
      for (const caller of [admin, grid]) {
        const complete = await caller.post(`/api/procedures/${procedure}/tasks/${none}/complete`, { outcome: [] });
        expect(complete.statusCode, complete.body).toBe(403);
        expect(complete.json().code).toBe('ROLE_REQUIRED');
      }
    }
  });

  it('refuses a task of another department before looking at the outcome', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const opened = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
    const accepted = (await clerk.post(`/api/cases/${opened.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 })).json();
    const verification = accepted.openTasks.find((t: { department: string }) => t.department === 'county-verification').id;
    // The window clerk and a supervisor see the case, but the verification task is not theirs:
    // they learn that, not which outcomes the task would take.
    for (const caller of [clerk, await ctx.as('supervisor.xihu')]) {
      for (const url of [`/api/tasks/${verification}/complete`, `/api/procedures/social-assistance/tasks/${verification}/complete`]) {
        const res = await caller.post(url, { outcome: 'NO_SUCH_OUTCOME' });
        expect(res.statusCode, res.body).toBe(403);
        expect(res.json().code).toBe('NOT_YOUR_DEPARTMENT');
      }
    }
    // The department's own reviewer gets the outcome's refusal.
    const verifier = await ctx.as('verify.xihu');
    const own = await verifier.post(`/api/tasks/${verification}/complete`, { outcome: 'NO_SUCH_OUTCOME' });
    expect(own.statusCode).toBe(422);
    expect(own.json().code).toBe('INVALID_OUTCOME');
  });
});

describe('the demo seed', () => {
  it('hashes every user’s password with its own salt', async () => {
    const rows = await db()('users').whereIn('username', DEMO_USERS.map((u) => u.username)).select('password_hash');
    expect(rows).toHaveLength(DEMO_USERS.length);
    expect(new Set(rows.map((r: any) => r.password_hash)).size).toBe(DEMO_USERS.length);
  });
});
