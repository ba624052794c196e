import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Role } from '../workflows/index.ts';
import type { Db } from './db/connection.ts';
import * as sessions from './db/sessions.ts';
import * as users from './db/users.ts';
import { getRegion } from './db/regions.ts';
import { findUserByUsername, type UserRow } from './db/users.ts';
import { DomainError } from './engine/errors.ts';
import type { Actor } from './engine/engine.ts';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
// N=2^14, r=8: ~16 MiB and tens of ms per hash — OWASP's minimum for scrypt.
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt') return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(actual, expected);
}

// Verifying against a dummy hash for unknown users keeps login timing independent of whether the user exists.
let dummyHash: Promise<string> | undefined;

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

export function toActor(u: sessions.SessionUser): Actor {
  return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles as Role[] };
}

export async function login(db: Db, username: string, password: string, now: Date, sessionHours: number) {
  const user = await findUserByUsername(db, username);
  const ok = user
    ? await verifyPassword(password, user.password_hash)
    : (await verifyPassword(password, await (dummyHash ??= hashPassword('dummy-password'))), false);
  if (!user || !ok) throw new DomainError('unauthenticated', 'INVALID_CREDENTIALS', '用户名或密码错误');
  // Only after the right password: a wrong one says nothing about the account's state.
  if (user.disabled_at) throw new DomainError('forbidden', 'ACCOUNT_DISABLED', '账号已停用，请联系管理员');
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + sessionHours * 3600_000);
  await sessions.insertSession(db, tokenHash(token), user.id, expiresAt);
  return { token, expiresAt, user: toActor(user) };
}

export async function authenticate(db: Db, token: string, now: Date): Promise<Actor | undefined> {
  const user = await sessions.findSessionUser(db, tokenHash(token), now);
  return user ? toActor(user) : undefined;
}

export async function logout(db: Db, token: string): Promise<void> {
  await sessions.deleteSession(db, tokenHash(token));
}

/**
 * A user changes their own password. A wrong current password ends the calling session, so
 * each guess costs a login (rate-limited and locked like any other) — a stolen token cannot be
 * turned into the password by trying. The new password revokes every other session.
 */
/**
 * `newPassword` already being the password means a retry of a change that went through (its
 * answer was lost): the caller knows the current password, so the retry may go on and be
 * answered as the first time (Idempotency-Key) instead of ending the session as a wrong guess.
 */
export async function verifyOwnPassword(db: Db, actor: Actor, token: string, currentPassword: string, newPassword?: string): Promise<void> {
  const user = actor.id ? await users.getUser(db, actor.id) : undefined;
  if (user && (await verifyPassword(currentPassword, user.password_hash))) return;
  if (user && newPassword !== undefined && (await verifyPassword(newPassword, user.password_hash))) return;
  await sessions.deleteSession(db, tokenHash(token));
  throw new DomainError('invalid', 'WRONG_PASSWORD', '当前密码不正确；为安全起见本次登录已失效，请重新登录', [
    { path: 'body.currentPassword', message: '当前密码不正确' },
  ]);
}

export async function changePassword(trx: Db, actor: Actor, token: string, currentPassword: string, newPassword: string, now: Date): Promise<{ revokedSessions: number }> {
  const user = await users.lockUser(trx, actor.id!);
  if (!user || user.disabled_at) throw new DomainError('unauthenticated', 'UNAUTHENTICATED', '请先登录');
  const issue = (message: string) => new DomainError('invalid', 'VALIDATION_FAILED', '请求参数有误，请按提示修改', [{ path: 'body.newPassword', message }]);
  if (newPassword === currentPassword) throw issue('新密码不能与当前密码相同');
  if (newPassword.toLowerCase().includes(user.username.toLowerCase())) throw issue('新密码不能包含用户名');
  await users.setPasswordHash(trx, user.id, await hashPassword(newPassword), now);
  return { revokedSessions: await sessions.deleteUserSessions(trx, user.id, tokenHash(token)) };
}

/** At least 10 characters of at least three kinds (等保 口令复杂度): lower, upper, digit, other. */
export function passwordStrengthIssue(password: string): string | null {
  if (password.length < 10) return '密码至少10位';
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(password)).length;
  return kinds >= 3 ? null : '密码须包含大写字母、小写字母、数字、符号中的至少三类';
}

// ---- administration: stopping users ------------------------------------------------------

export interface UserView {
  id: string;
  username: string;
  displayName: string;
  regionCode: string;
  department: string;
  roles: string[];
  disabled: boolean;
  disabledAt: string | null;
  activeSessions: number;
}

export const userView = (u: UserRow, activeSessions: number): UserView => ({
  id: u.id,
  username: u.username,
  displayName: u.display_name,
  regionCode: u.region_code,
  department: u.department,
  roles: u.roles,
  disabled: Boolean(u.disabled_at),
  disabledAt: u.disabled_at ? u.disabled_at.toISOString() : null,
  activeSessions,
});

/** Admins manage users of their region and below; anyone else's user does not exist for them. */
async function managedUser(trx: Db, admin: Actor, userId: string): Promise<UserRow> {
  if (!admin.roles.includes('admin')) throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅管理员可管理用户');
  const user = await users.lockUser(trx, userId);
  if (!user || !user.region_code.startsWith(admin.regionCode)) throw new DomainError('not_found', 'NOT_FOUND', '未找到该用户');
  return user;
}

export async function listUsers(db: Db, admin: Actor, q: { page: number; pageSize: number; region?: string; q?: string; disabled?: boolean }, now: Date) {
  if (!admin.roles.includes('admin')) throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅管理员可管理用户');
  const { rows, total } = await users.listUsers(db, {
    regionPrefix: admin.regionCode,
    regionCode: q.region,
    search: q.q,
    disabled: q.disabled,
    now,
    limit: q.pageSize,
    offset: (q.page - 1) * q.pageSize,
  });
  return { items: rows.map((r) => userView(r, Number(r.active_sessions))), total, page: q.page, pageSize: q.pageSize };
}

/** Disabling takes effect at once: every session is revoked and no token of the user authenticates. */
export async function disableUser(trx: Db, admin: Actor, userId: string, now: Date): Promise<UserView> {
  const user = await managedUser(trx, admin, userId);
  if (user.id === admin.id) throw new DomainError('conflict', 'CANNOT_DISABLE_SELF', '不能停用自己的账号');
  if (!user.disabled_at) await users.setDisabled(trx, user.id, { at: now, by: admin.id! });
  await sessions.deleteUserSessions(trx, user.id);
  return userView({ ...user, disabled_at: user.disabled_at ?? now }, 0);
}

export async function enableUser(trx: Db, admin: Actor, userId: string, now: Date): Promise<UserView> {
  const user = await managedUser(trx, admin, userId);
  await users.setDisabled(trx, user.id, null);
  return userView({ ...user, disabled_at: null }, await sessions.countUserSessions(trx, user.id, now));
}

export async function revokeSessions(trx: Db, admin: Actor, userId: string): Promise<{ userId: string; revokedSessions: number }> {
  const user = await managedUser(trx, admin, userId);
  return { userId: user.id, revokedSessions: await sessions.deleteUserSessions(trx, user.id) };
}

const invalidField = (path: string, message: string) =>
  new DomainError('invalid', 'VALIDATION_FAILED', '请求参数有误，请按提示修改', [{ path, message }]);

/** The password policy plus: not the username inside it. */
function assertPasswordFor(username: string, password: string, path: string): void {
  const issue = passwordStrengthIssue(password);
  if (issue) throw invalidField(path, issue);
  if (password.toLowerCase().includes(username.toLowerCase())) throw invalidField(path, '密码不能包含用户名');
}

export interface NewUser {
  username: string;
  displayName: string;
  regionCode: string;
  department: string;
  roles: Role[];
  password: string;
}

/** An admin creates a user in their region or below, with an initial password meeting the policy. */
export async function createUser(trx: Db, admin: Actor, input: NewUser, now: Date): Promise<UserView> {
  if (!admin.roles.includes('admin')) throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅管理员可管理用户');
  if (!input.regionCode.startsWith(admin.regionCode)) throw invalidField('body.regionCode', '只能在本辖区及下级地区创建用户');
  if (!(await getRegion(trx, input.regionCode))) throw invalidField('body.regionCode', '该地区不存在');
  assertPasswordFor(input.username, input.password, 'body.password');
  const row: UserRow = {
    id: randomUUID(),
    username: input.username,
    password_hash: await hashPassword(input.password),
    display_name: input.displayName,
    region_code: input.regionCode,
    department: input.department,
    roles: [...new Set(input.roles)],
    password_changed_at: now,
  };
  if (!(await users.insertUser(trx, row))) throw new DomainError('conflict', 'USERNAME_TAKEN', '该用户名已被使用');
  return userView({ ...row, disabled_at: null }, 0);
}

/**
 * An admin sets a new password for a user of their region or below (forgotten password): every
 * session of the user ends at once, so whoever held one must log in with the new password.
 */
export async function resetPassword(trx: Db, admin: Actor, userId: string, newPassword: string, now: Date): Promise<{ userId: string; revokedSessions: number }> {
  const user = await managedUser(trx, admin, userId);
  assertPasswordFor(user.username, newPassword, 'body.newPassword');
  await users.setPasswordHash(trx, user.id, await hashPassword(newPassword), now);
  return { userId: user.id, revokedSessions: await sessions.deleteUserSessions(trx, user.id) };
}
