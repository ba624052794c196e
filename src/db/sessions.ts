import type { Db } from './connection.ts';
import type { UserRow } from './users.ts';

export async function insertSession(db: Db, tokenHash: string, userId: string, expiresAt: Date): Promise<void> {
  await db('sessions').insert({ token_hash: tokenHash, user_id: userId, expires_at: expiresAt });
}

/**
 * Asked on every authenticated request, so its text is fixed (no query builder per call), and it
 * reads what an actor is made of — never the password hash. `limit 1`: token_hash is the key.
 */
const SESSION_USER =
  'select users.id, users.display_name, users.region_code, users.department, users.roles from sessions join users on users.id = sessions.user_id where sessions.token_hash = ? and sessions.expires_at > ? and users.disabled_at is null limit 1';

export type SessionUser = Pick<UserRow, 'id' | 'display_name' | 'region_code' | 'department' | 'roles'>;

/** The user behind a live session; a disabled user has none, whatever sessions remain. */
export async function findSessionUser(db: Db, tokenHash: string, now: Date): Promise<SessionUser | undefined> {
  const { rows } = await db.raw(SESSION_USER, [tokenHash, now]);
  return rows[0] as SessionUser | undefined;
}

export async function deleteSession(db: Db, tokenHash: string): Promise<void> {
  await db('sessions').where({ token_hash: tokenHash }).delete();
}

/** Revokes every session of a user but `keepTokenHash` (the caller's own, on a password change). Uses sessions_by_user. */
export async function deleteUserSessions(db: Db, userId: string, keepTokenHash?: string): Promise<number> {
  const q = db('sessions').where({ user_id: userId });
  if (keepTokenHash) q.andWhereNot({ token_hash: keepTokenHash });
  // Counted from the rows returned: drivers disagree on what delete() resolves to.
  return (await q.delete().returning('token_hash')).length;
}

export async function countUserSessions(db: Db, userId: string, now: Date): Promise<number> {
  const [{ n }] = await db('sessions').where({ user_id: userId }).andWhere('expires_at', '>', now).count<{ n: string | number }[]>({ n: '*' });
  return Number(n);
}
