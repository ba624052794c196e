import type { Db } from './connection.ts';

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  display_name: string;
  region_code: string;
  department: string;
  roles: string[];
}

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ username }).first();
}

export async function upsertUser(db: Db, user: UserRow): Promise<void> {
  await db('users').insert(user).onConflict('username').merge(['password_hash', 'display_name', 'region_code', 'department', 'roles']);
}
