import type { Db } from './connection.ts';

/**
 * Counts a hit in a fixed window; returns the count so far and any lock. One statement, so any
 * number of service processes share the same counters.
 */
export async function hit(db: Db, bucket: string, now: Date, windowMs: number): Promise<{ hits: number; windowStart: Date; lockedUntil: Date | null }> {
  const windowStart = new Date(now.getTime() - windowMs);
  const { rows } = await db.raw(
    `insert into rate_limits (bucket, hits, window_start) values (?, 1, ?)
     on conflict (bucket) do update set
       hits = case when rate_limits.window_start < ? then 1 else rate_limits.hits + 1 end,
       window_start = case when rate_limits.window_start < ? then excluded.window_start else rate_limits.window_start end
     returning hits, window_start, locked_until`,
    [bucket, now, windowStart, windowStart],
  );
  return { hits: Number(rows[0].hits), windowStart: new Date(rows[0].window_start), lockedUntil: rows[0].locked_until ? new Date(rows[0].locked_until) : null };
}

export async function lockedUntil(db: Db, bucket: string, now: Date): Promise<Date | null> {
  const row = await db('rate_limits').where({ bucket }).andWhere('locked_until', '>', now).first('locked_until');
  return row ? new Date(row.locked_until) : null;
}

export async function lock(db: Db, bucket: string, until: Date): Promise<void> {
  await db('rate_limits').where({ bucket }).update({ locked_until: until });
}

export async function clear(db: Db, bucket: string): Promise<void> {
  await db('rate_limits').where({ bucket }).delete();
}
