import type { Db } from './connection.ts';

export interface HeartbeatRow {
  worker_id: string;
  kind: string;
  started_at: Date;
  beat_at: Date;
}

/** Records that a worker loop is alive (upsert of its row). */
export async function beat(db: Db, workerId: string, kind: string, at: Date): Promise<void> {
  await db.raw(
    `insert into worker_heartbeats (worker_id, kind, started_at, beat_at) values (?, ?, ?, ?)
     on conflict (worker_id) do update set beat_at = excluded.beat_at, kind = excluded.kind`,
    [workerId, kind, at, at],
  );
}

/** A loop that stopped cleanly leaves no row behind; rows of crashed loops age out (pruneBefore). */
export async function removeBeat(db: Db, workerId: string): Promise<void> {
  await db('worker_heartbeats').where({ worker_id: workerId }).delete();
}

export async function pruneBefore(db: Db, before: Date): Promise<void> {
  await db('worker_heartbeats').where('beat_at', '<', before).delete();
}

/** The newest beat of each kind, and how many loops of that kind beat since `since`. */
export async function latestByKind(db: Db, since: Date): Promise<Map<string, { beatAt: Date; live: number }>> {
  const rows: Array<{ kind: string; beat_at: Date | string; live: number | string }> = await db('worker_heartbeats')
    .select('kind')
    .max({ beat_at: 'beat_at' })
    .select(db.raw('count(*) filter (where beat_at >= ?) as live', [since]))
    .groupBy('kind');
  return new Map(rows.map((r) => [r.kind, { beatAt: new Date(r.beat_at), live: Number(r.live) }]));
}
