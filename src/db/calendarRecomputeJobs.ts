import type { Db } from './connection.ts';

/** A queued recompute of due dates after a calendar load (migration 012, engine/calendarRecompute.ts). */
export interface RecomputeJobRow {
  id: string;
  region_code: string;
  year: number;
  source: string;
  status: 'pending' | 'done' | 'failed';
  not_before: Date;
  after_case_id: string | null;
  cases_seen: number;
  cases_changed: number;
  attempts: number;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  requested_by: string | null;
  created_at: Date;
  finished_at: Date | null;
}

export async function enqueueRecompute(
  db: Db,
  job: { regionCode: string; year: number; source: string; requestedBy: string | null; notBefore: Date; now: Date },
): Promise<string> {
  const [row] = await db('calendar_recompute_jobs')
    .insert({ region_code: job.regionCode, year: job.year, source: job.source, requested_by: job.requestedBy, not_before: job.notBefore, created_at: job.now })
    .returning('id');
  return String(row.id ?? row);
}

/** Leases the oldest claimable pending job to `workerId`; SKIP LOCKED lets workers claim side by side. */
export async function claimRecomputeJob(db: Db, workerId: string, now: Date, leaseUntil: Date): Promise<RecomputeJobRow | undefined> {
  const { rows } = await db.raw(
    `update calendar_recompute_jobs set locked_by = ?, locked_until = ?, attempts = attempts + 1
     where id = (
       select id from calendar_recompute_jobs
       where status = 'pending' and not_before <= ? and (locked_until is null or locked_until < ?)
       order by id
       limit 1
       for update skip locked)
     returning *`,
    [workerId, leaseUntil, now, now],
  );
  return rows[0] ? { ...rows[0], id: String(rows[0].id) } : undefined;
}

/** Locks the job row if it is still leased to `workerId` (a lease lost to another worker ends the batch). */
export async function lockOwnedJob(db: Db, id: string, workerId: string): Promise<RecomputeJobRow | undefined> {
  const row = await db('calendar_recompute_jobs').where({ id, locked_by: workerId, status: 'pending' }).forUpdate().first();
  return row ? { ...row, id: String(row.id) } : undefined;
}

/** Running cases that may have a date touching `year`, in id order after `afterId`: the next batch. */
export async function casesTouchingYear(db: Db, q: { regionCode: string; year: number; afterId: string | null; limit: number }): Promise<string[]> {
  // China-time first instant of the year: any stored date at or after it may have used its days.
  const from = new Date(Date.parse(`${q.year}-01-01T00:00:00+08:00`));
  const query = db('cases as c')
    .where('c.status', 'running')
    .modify((b) => {
      if (q.afterId) b.where('c.id', '>', q.afterId);
      if (q.regionCode !== 'CN') b.whereRaw(`c.region_code like ? || '%'`, [q.regionCode]);
    })
    .where((w) =>
      w
        .where('c.deadline_provisional', true)
        .orWhere('c.deadline_note', 'like', 'CALENDAR_YEAR_MISSING%')
        .orWhere('c.due_at', '>=', from)
        .orWhereExists((e) =>
          e
            .select(db.raw('1'))
            .from('tasks as t')
            .whereRaw('t.case_id = c.id')
            .whereIn('t.status', ['open', 'claimed'])
            .where((x) => x.where('t.deadline_provisional', true).orWhere('t.deadline_note', 'like', 'CALENDAR_YEAR_MISSING%').orWhere('t.red_at', '>=', from)),
        )
        .orWhereExists((e) =>
          e.select(db.raw('1')).from('timers as m').whereRaw('m.case_id = c.id').where({ 'm.status': 'pending', 'm.kind': 'state' }).where('m.due_at', '>=', from),
        ),
    )
    .orderBy('c.id')
    .limit(q.limit)
    .select('c.id');
  return (await query).map((r: { id: string }) => r.id);
}

export async function saveProgress(
  db: Db,
  id: string,
  p: { afterCaseId: string | null; seen: number; changed: number; leaseUntil: Date; done: boolean; now: Date },
): Promise<void> {
  await db('calendar_recompute_jobs')
    .where({ id })
    .update({
      after_case_id: p.afterCaseId,
      cases_seen: db.raw('cases_seen + ?', [p.seen]),
      cases_changed: db.raw('cases_changed + ?', [p.changed]),
      locked_until: p.leaseUntil,
      ...(p.done ? { status: 'done', finished_at: p.now, locked_by: null, locked_until: null } : {}),
    });
}

/** Hands a job back (a busy case, a failure): claimable again from `notBefore`; failed after too many attempts. */
export async function releaseJob(db: Db, id: string, workerId: string, r: { notBefore: Date; error?: string; failed?: boolean }): Promise<void> {
  await db('calendar_recompute_jobs')
    .where({ id, locked_by: workerId })
    .update({
      locked_by: null,
      locked_until: null,
      not_before: r.notBefore,
      ...(r.error !== undefined ? { last_error: r.error } : {}),
      ...(r.failed ? { status: 'failed' } : {}),
    });
}

export async function listRecomputeJobs(db: Db, limit = 20): Promise<RecomputeJobRow[]> {
  const rows = await db('calendar_recompute_jobs').orderBy('id', 'desc').limit(limit);
  return rows.map((r: RecomputeJobRow) => ({ ...r, id: String(r.id) }));
}
