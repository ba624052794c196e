import type { Db } from './connection.ts';

/** How long an Idempotency-Key is remembered (documented in docs/security.md); older keys count as absent. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/**
 * Records a key; false if (user, key) already exists and is still live — after waiting for any
 * transaction writing it. An expired row is taken over in the same statement, as if it were absent.
 */
export async function claimKey(db: Db, userId: string, key: string, requestHash: string, now: Date): Promise<boolean> {
  const { rows } = await db.raw(
    `insert into idempotency_keys (user_id, key, request_hash, created_at) values (?, ?, ?, ?)
     on conflict (user_id, key) do update
       set request_hash = excluded.request_hash, created_at = excluded.created_at, status_code = null, response = null
       where idempotency_keys.created_at < ?
     returning key`,
    [userId, key, requestHash, now, new Date(now.getTime() - IDEMPOTENCY_TTL_MS)],
  );
  return rows.length > 0;
}

export async function getKey(db: Db, userId: string, key: string) {
  return db('idempotency_keys').where({ user_id: userId, key }).first();
}

/** `sealed` is the response as the caller stores it (encrypted: it may hold a tracking code). */
export async function storeResponse(db: Db, userId: string, key: string, status: number, sealed: string): Promise<void> {
  await db('idempotency_keys').where({ user_id: userId, key }).update({ status_code: status, response: JSON.stringify(sealed) });
}

export async function purgeKeysBefore(db: Db, before: Date): Promise<number> {
  return db('idempotency_keys').where('created_at', '<', before).delete();
}

/**
 * Deletes at most `limit` expired keys through the created_at index, skipping rows another
 * transaction holds: cheap enough to run opportunistically from any service process.
 */
export async function purgeSomeKeysBefore(db: Db, before: Date, limit = 100): Promise<number> {
  const { rows } = await db.raw(
    // By row address (a TID scan): matching on (user_id, key) let the planner walk the whole
    // primary-key index when the table is small.
    `delete from idempotency_keys where ctid = any(array(
       select ctid from idempotency_keys where created_at < ? order by created_at limit ? for update skip locked))
     returning user_id`,
    [before, limit],
  );
  return rows.length;
}
