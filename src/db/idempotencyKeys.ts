import type { Db } from './connection.ts';

/** Records a key; false if (user, key) already exists — after waiting for any transaction writing it. */
export async function claimKey(db: Db, userId: string, key: string, requestHash: string, now: Date): Promise<boolean> {
  const fresh = await db('idempotency_keys')
    .insert({ user_id: userId, key, request_hash: requestHash, created_at: now })
    .onConflict(['user_id', 'key'])
    .ignore()
    .returning('key');
  return fresh.length > 0;
}

export async function getKey(db: Db, userId: string, key: string) {
  return db('idempotency_keys').where({ user_id: userId, key }).first();
}

export async function storeResponse(db: Db, userId: string, key: string, status: number, body: unknown): Promise<void> {
  await db('idempotency_keys').where({ user_id: userId, key }).update({ status_code: status, response: JSON.stringify(body ?? null) });
}

export async function purgeKeysBefore(db: Db, before: Date): Promise<number> {
  return db('idempotency_keys').where('created_at', '<', before).delete();
}
