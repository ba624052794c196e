import type { Db } from './connection.ts';
import type { UserRow } from './users.ts';

export async function insertSession(db: Db, tokenHash: string, userId: string, expiresAt: Date): Promise<void> {
  await db('sessions').insert({ token_hash: tokenHash, user_id: userId, expires_at: expiresAt });
}

export async function findSessionUser(db: Db, tokenHash: string, now: Date): Promise<UserRow | undefined> {
  return db<UserRow>('sessions')
    .join('users', 'users.id', 'sessions.user_id')
    .where('sessions.token_hash', tokenHash)
    .andWhere('sessions.expires_at', '>', now)
    .first('users.*');
}

export async function deleteSession(db: Db, tokenHash: string): Promise<void> {
  await db('sessions').where({ token_hash: tokenHash }).delete();
}
