import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Role } from '../workflows/index.ts';
import type { Db } from './db/connection.ts';
import * as sessions from './db/sessions.ts';
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

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

export function toActor(u: UserRow): Actor {
  return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles as Role[] };
}

export async function login(db: Db, username: string, password: string, now: Date, sessionHours: number) {
  const user = await findUserByUsername(db, username);
  const ok = user
    ? await verifyPassword(password, user.password_hash)
    : (await verifyPassword(password, await (dummyHash ??= hashPassword('dummy-password'))), false);
  if (!user || !ok) throw new DomainError('unauthenticated', 'INVALID_CREDENTIALS', '用户名或密码错误');
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
