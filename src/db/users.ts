import type { Db } from './connection.ts';

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  display_name: string;
  region_code: string;
  department: string;
  roles: string[];
  /** Set while the user is disabled: no login, no session. */
  disabled_at?: Date | null;
  disabled_by?: string | null;
  password_changed_at?: Date | null;
}

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ username }).first();
}

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ id }).first();
}

/** Locks the user row, so concurrent disable/enable/password changes of one user serialise. */
export async function lockUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ id }).forUpdate().first();
}

export async function upsertUser(db: Db, user: UserRow): Promise<void> {
  await db('users').insert(user).onConflict('username').merge(['password_hash', 'display_name', 'region_code', 'department', 'roles']);
}

export interface UserListRow extends UserRow {
  active_sessions: number | string;
}

export interface UserListQuery {
  regionPrefix: string;
  /** Exactly this region (within regionPrefix). */
  regionCode?: string;
  /** Part of the username or display name, case-insensitive. */
  search?: string;
  disabled?: boolean;
  now: Date;
  limit: number;
  offset: number;
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Users of a region and below, with their live session counts, by username. */
export async function listUsers(db: Db, q: UserListQuery): Promise<{ rows: UserListRow[]; total: number }> {
  const base = db('users').where('users.region_code', 'like', `${q.regionPrefix}%`);
  if (q.regionCode !== undefined) base.andWhere('users.region_code', q.regionCode);
  if (q.disabled !== undefined) base.andWhere((w) => (q.disabled ? w.whereNotNull('users.disabled_at') : w.whereNull('users.disabled_at')));
  if (q.search) {
    const pattern = `%${likeEscape(q.search.toLowerCase())}%`;
    base.andWhere((w) => w.whereRaw('lower(users.username) like ?', [pattern]).orWhereRaw('lower(users.display_name) like ?', [pattern]));
  }
  const [{ count }] = await base.clone().count<{ count: string | number }[]>({ count: '*' });
  const live = db('sessions').count('*').whereRaw('sessions.user_id = users.id').andWhere('sessions.expires_at', '>', q.now).as('active_sessions');
  const rows = await base.select('users.*', live).orderBy('users.username').limit(q.limit).offset(q.offset);
  return { rows, total: Number(count) };
}

export async function setDisabled(db: Db, id: string, disabled: { at: Date; by: string } | null): Promise<void> {
  await db('users').where({ id }).update({ disabled_at: disabled?.at ?? null, disabled_by: disabled?.by ?? null });
}

export async function setPasswordHash(db: Db, id: string, passwordHash: string, at: Date): Promise<void> {
  await db('users').where({ id }).update({ password_hash: passwordHash, password_changed_at: at });
}

/** A new user; false when the username is taken (the unique index decides, so two creations cannot race). */
export async function insertUser(db: Db, user: UserRow): Promise<boolean> {
  const rows = await db('users').insert(user).onConflict('username').ignore().returning('id');
  return rows.length === 1;
}

/**
 * Active users who may take a task: of its department, holding its role, in a region covering the
 * case's (a prefix of it), except `excludeId` (the current assignee); by display name, then id.
 */
export async function listAssignable(
  db: Db,
  q: { department: string; role: string; regionCode: string; excludeId: string | null; limit: number; offset: number },
): Promise<{ rows: Array<Pick<UserRow, 'id' | 'display_name'>>; total: number }> {
  const base = db('users')
    .where({ department: q.department })
    .whereNull('disabled_at')
    .whereRaw('? = any(roles)', [q.role])
    .whereRaw('? like users.region_code || \'%\'', [q.regionCode]);
  if (q.excludeId) base.whereNot('users.id', q.excludeId);
  const [{ count }] = await base.clone().count<{ count: string | number }[]>({ count: '*' });
  const rows = await base.select('users.id', 'users.display_name').orderBy([{ column: 'users.display_name' }, { column: 'users.id' }]).limit(q.limit).offset(q.offset);
  return { rows, total: Number(count) };
}
