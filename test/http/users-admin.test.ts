import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/engine/audit.ts';
import { hashPassword } from '../../src/identity.ts';
import { upsertRegion } from '../../src/db/regions.ts';
import { upsertUser } from '../../src/db/users.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { useTestApp } from '../support/app.ts';

// Issue 8 §6 (server side): admins create users and reset passwords, in their region and below.
const ctx = useTestApp();
const db = () => ctx.database.db;

const login = (username: string, password: string) => ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
const me = (token: string) => ctx.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${token}` } });
const newUser = (over: Record<string, unknown> = {}) => ({
  username: 'clerk.beishan3',
  displayName: '北山街道窗口 林芳',
  regionCode: '330106001',
  department: 'township-window',
  roles: ['clerk'],
  password: 'Window#Start2026',
  ...over,
});

describe('creating a user', () => {
  it('creates a user of the admin’s region or below who can log in and work at once', async () => {
    const admin = await ctx.as('admin.xihu');
    const res = await admin.post('/api/admin/users', newUser());
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ username: 'clerk.beishan3', displayName: '北山街道窗口 林芳', regionCode: '330106001', department: 'township-window', roles: ['clerk'], disabled: false, activeSessions: 0 });
    expect(res.json()).not.toHaveProperty('password');
    const session = await login('clerk.beishan3', 'Window#Start2026');
    expect(session.statusCode).toBe(200);
    expect((await me(session.json().token)).json()).toMatchObject({ regionCode: '330106001', department: 'township-window', roles: ['clerk'] });
    const listed = (await admin.get('/api/admin/users?pageSize=200')).json();
    expect(listed.items.map((u: any) => u.username)).toContain('clerk.beishan3');
    // The password is stored only as a scrypt hash.
    const row = await db()('users').where({ username: 'clerk.beishan3' }).first();
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(row.password_hash).not.toContain('Window#Start2026');
  });

  it('refuses a taken username, a region outside the admin’s, a weak password and a caller who is not an admin', async () => {
    const admin = await ctx.as('admin.xihu');
    const taken = await admin.post('/api/admin/users', newUser({ username: 'clerk.beishan' }));
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('USERNAME_TAKEN');

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ username: 'a.outside', regionCode: '330105' }, 'body.regionCode'],
      [{ username: 'a.nowhere', regionCode: '330106999' }, 'body.regionCode'],
      [{ username: 'a.weak', password: 'short' }, 'body.password'],
      [{ username: 'a.kinds', password: 'alllowercaseletters' }, 'body.password'],
      [{ username: 'mypass', password: 'Xmypass#2026' }, 'body.password'],
      [{ username: 'Bad Name' }, 'body.username'],
      [{ username: 'a.noroles', roles: [] }, 'body.roles'],
      [{ username: 'a.dept', department: 'nowhere' }, 'body.department'],
    ];
    for (const [over, path] of cases) {
      const res = await admin.post('/api/admin/users', newUser(over));
      expect(res.statusCode, JSON.stringify(over)).toBe(422);
      expect(res.json().details.map((d: any) => d.path), JSON.stringify(over)).toContain(path);
    }
    for (const user of ['clerk.beishan', 'supervisor.xihu']) {
      const res = await (await ctx.as(user)).post('/api/admin/users', newUser({ username: 'x.sneaky' }));
      expect(res.statusCode, user).toBe(403);
      expect(res.json().code).toBe('ROLE_REQUIRED');
    }
    expect(await db()('users').where('username', 'like', 'a.%').orWhere({ username: 'x.sneaky' })).toEqual([]);
  });

  it('replays a retried creation with the same Idempotency-Key, and never hashes the password into the key record', async () => {
    const { token } = await ctx.as('admin.xihu');
    const body = newUser({ username: 'clerk.retry' });
    const send = () =>
      ctx.app.inject({ method: 'POST', url: '/api/admin/users', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'create-clerk-retry' }, payload: body });
    const first = await send();
    expect(first.statusCode, first.body).toBe(201);
    const again = await send();
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(await db()('users').where({ username: 'clerk.retry' })).toHaveLength(1);
    const stored = await db()('idempotency_keys').where({ key: 'create-clerk-retry' }).first();
    const withPassword = createHash('sha256').update(`POST /api/admin/users\n${canonicalJson(body)}`).digest('hex');
    expect(stored.request_hash).not.toBe(withPassword);
  });
});

describe('resetting a password', () => {
  it('sets the new password and ends every session of the user at once', async () => {
    const admin = await ctx.as('admin.xihu');
    expect((await admin.post('/api/admin/users', newUser({ username: 'clerk.forgetful' }))).statusCode).toBe(201);
    const tokens = [(await login('clerk.forgetful', 'Window#Start2026')).json().token, (await login('clerk.forgetful', 'Window#Start2026')).json().token];
    const id = (await db()('users').where({ username: 'clerk.forgetful' }).first()).id;

    const weak = await admin.post(`/api/admin/users/${id}/reset-password`, { newPassword: 'weak' });
    expect(weak.statusCode).toBe(422);
    expect(weak.json().details[0].path).toBe('body.newPassword');
    for (const t of tokens) expect((await me(t)).statusCode).toBe(200);

    const res = await admin.post(`/api/admin/users/${id}/reset-password`, { newPassword: 'Fresh#Window2026' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ userId: id, revokedSessions: 2 });
    for (const t of tokens) expect((await me(t)).json().code).toBe('UNAUTHENTICATED');
    expect((await login('clerk.forgetful', 'Window#Start2026')).statusCode).toBe(401);
    expect((await login('clerk.forgetful', 'Fresh#Window2026')).statusCode).toBe(200);
  });

  it('refuses an Idempotency-Key reused with another new password instead of reporting a reset that did not happen', async () => {
    const admin = await ctx.as('admin.xihu');
    expect((await admin.post('/api/admin/users', newUser({ username: 'clerk.rekeyed' }))).statusCode).toBe(201);
    const id = (await db()('users').where({ username: 'clerk.rekeyed' }).first()).id;
    const reset = (newPassword: string) =>
      ctx.app.inject({ method: 'POST', url: `/api/admin/users/${id}/reset-password`, headers: { authorization: `Bearer ${admin.token}`, 'idempotency-key': 'reset-rekeyed' }, payload: { newPassword } });
    expect((await reset('Fresh#Window2026')).statusCode).toBe(200);
    const retried = await reset('Fresh#Window2026');
    expect(retried.statusCode).toBe(200);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    const other = await reset('Other#Window2026');
    expect(other.statusCode, other.body).toBe(422);
    expect(other.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await login('clerk.rekeyed', 'Fresh#Window2026')).statusCode).toBe(200);
    // The key record still holds nothing a password could be guessed from offline.
    const stored = await db()('idempotency_keys').where({ key: 'reset-rekeyed' }).first();
    for (const body of [{ newPassword: 'Fresh#Window2026' }, { userId: id, newPassword: 'Fresh#Window2026' }]) {
      expect(stored.request_hash).not.toBe(createHash('sha256').update(`POST /api/admin/users/${id}/reset-password\n${canonicalJson(body)}`).digest('hex'));
    }
  });

  it('treats a user outside the admin’s region as absent, and refuses non-admins', async () => {
    await upsertRegion(db(), { code: '330105', name: '拱墅区（演示）', parent_code: null, settings: {} });
    const outsider = crypto.randomUUID();
    await upsertUser(db(), { id: outsider, username: 'clerk.gongshu', password_hash: await hashPassword(DEMO_PASSWORD), display_name: '拱墅窗口', region_code: '330105', department: 'township-window', roles: ['clerk'] });
    const admin = await ctx.as('admin.xihu');
    const res = await admin.post(`/api/admin/users/${outsider}/reset-password`, { newPassword: 'Fresh#Window2026' });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('NOT_FOUND');
    expect((await login('clerk.gongshu', DEMO_PASSWORD)).statusCode).toBe(200);
    const clerkId = (await db()('users').where({ username: 'clerk.beishan' }).first()).id;
    const byClerk = await (await ctx.as('clerk.beishan')).post(`/api/admin/users/${clerkId}/reset-password`, { newPassword: 'Fresh#Window2026' });
    expect(byClerk.statusCode).toBe(403);
  });
});
