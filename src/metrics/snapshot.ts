import type { Knex } from 'knex';

/** What the deployment-wide gauges show, read in one go at scrape time (src/metrics/index.ts). */
export interface OperationalSnapshot {
  openTasks: Array<{ department: string; escalation: string; count: number }>;
  timerLagSeconds: number;
  timerBacklog: number;
  outboxBacklog: Array<{ kind: string; count: number }>;
  outboxOldestSeconds: number;
  outboxFailures: Array<{ kind: string; state: 'retrying' | 'dead'; count: number }>;
  heartbeats: Array<{ kind: string; ageSeconds: number }>;
}

/** Counts stop here: a gauge says "at least this many" instead of a scan growing with the backlog. */
export const COUNT_CAP = 100_000;

const seconds = (now: Date, then: Date | string | null | undefined) => (then ? Math.max(0, (now.getTime() - new Date(then).getTime()) / 1000) : 0);

/**
 * Bounded queries, each served by an existing (mostly partial) index: tasks_live_due for open
 * tasks, timers_due for due timers, outbox_pending for the backlog, notices_by_status /
 * notices_due for failed notices, worker_heartbeats_by_kind for heartbeats.
 */
export async function snapshotOf(db: Knex, now: Date): Promise<OperationalSnapshot> {
  // One after another: a scrape holds at most one pooled connection.
  const results: Array<{ rows: any[] }> = [];
  for (const [sql, bindings] of [
    [`select department, escalation, count(*)::int as n from tasks where status in ('open', 'claimed') group by department, escalation`, []],
    [`select min(due_at) as oldest, count(*)::int as n from (select due_at from timers where status = 'pending' and due_at <= ? order by due_at limit ?) due`, [now, COUNT_CAP]],
    [`select kind, count(*)::int as n from (select kind from outbox where processed_at is null order by id limit ?) pending group by kind`, [COUNT_CAP]],
    [`select created_at from outbox where processed_at is null order by id limit 1`, []],
    [`select kind, count(*)::int as n from (select kind from notices where status = 'dead' order by id limit ?) d group by kind`, [COUNT_CAP]],
    [`select kind, count(*)::int as n from (select kind from notices where status = 'pending' and attempts > 0 limit ?) r group by kind`, [COUNT_CAP]],
    [`select kind, max(beat_at) as beat_at from worker_heartbeats group by kind`, []],
  ] as Array<[string, unknown[]]>) results.push(await db.raw(sql, bindings as any));
  const [tasks, timers, backlog, oldest, dead, retrying, beats] = results;
  const rows = (r: { rows: any[] }) => r.rows;
  return {
    openTasks: rows(tasks).map((r) => ({ department: r.department, escalation: r.escalation, count: Number(r.n) })),
    timerLagSeconds: seconds(now, rows(timers)[0]?.oldest),
    timerBacklog: Number(rows(timers)[0]?.n ?? 0),
    outboxBacklog: rows(backlog).map((r) => ({ kind: r.kind, count: Number(r.n) })),
    outboxOldestSeconds: seconds(now, rows(oldest)[0]?.created_at),
    outboxFailures: [
      ...rows(dead).map((r) => ({ kind: `notice.${r.kind}`, state: 'dead' as const, count: Number(r.n) })),
      ...rows(retrying).map((r) => ({ kind: `notice.${r.kind}`, state: 'retrying' as const, count: Number(r.n) })),
    ],
    heartbeats: rows(beats).map((r) => ({ kind: r.kind, ageSeconds: seconds(now, r.beat_at) })),
  };
}
