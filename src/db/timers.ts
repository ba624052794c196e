import type { Db } from './connection.ts';
import { insertSql, updateSql, type Sql } from './sql.ts';

/** `invite`: the rating invitation after a decision (commands/service.ts). */
export type TimerKind = 'warn' | 'overdue' | 'red' | 'state' | 'invite';

export interface TimerRow {
  id: string;
  case_id: string;
  task_id: string | null;
  state_id: string;
  kind: TimerKind;
  event_type: string;
  due_at: Date;
  status: 'pending' | 'fired' | 'cancelled' | 'failed';
  attempts: number;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  fired_at: Date | null;
  created_at: Date;
}

export type NewTimer = Pick<TimerRow, 'case_id' | 'task_id' | 'state_id' | 'kind' | 'event_type' | 'due_at' | 'created_at'>;

export async function insertTimers(db: Db, rows: NewTimer[]): Promise<void> {
  if (rows.length) await insertTimersQuery(rows).run(db);
}

/** insertTimers (at least one row) as a statement to run with others (batch.ts). */
export function insertTimersQuery(rows: NewTimer[]): Sql {
  return insertSql('timers', rows);
}

/** Cancels the pending timers of tasks that closed, in the transition's transaction. */
export async function cancelTaskTimers(db: Db, taskIds: string[]): Promise<void> {
  if (taskIds.length) await cancelTaskTimersQuery(taskIds).run(db);
}

/** cancelTaskTimers (at least one task) as a statement to run with others (batch.ts). */
export function cancelTaskTimersQuery(taskIds: string[]): Sql {
  return updateSql('timers', { status: 'cancelled' }, { task_id: taskIds, status: 'pending' });
}

/** Cancels a case's pending state timers for states it has left. */
export async function cancelStateTimers(db: Db, caseId: string, stateIds: string[]): Promise<void> {
  if (stateIds.length) await cancelStateTimersQuery(caseId, stateIds).run(db);
}

/** cancelStateTimers (at least one state) as a statement to run with others (batch.ts). */
export function cancelStateTimersQuery(caseId: string, stateIds: string[]): Sql {
  return updateSql('timers', { status: 'cancelled' }, { case_id: caseId, kind: 'state', status: 'pending', state_id: stateIds });
}

/**
 * Leases up to `limit` due timers to `workerId` until `leaseUntil`. SKIP LOCKED lets any number
 * of workers claim side by side; a lease that expires (its worker died) makes the timer
 * claimable again.
 */
export async function claimDueTimers(db: Db, workerId: string, now: Date, leaseUntil: Date, limit: number): Promise<Array<{ id: string; caseId: string }>> {
  const { rows } = await db.raw(
    `update timers set locked_by = ?, locked_until = ?, attempts = attempts + 1
     where id in (
       select id from timers
       where status = 'pending' and due_at <= ? and (locked_until is null or locked_until < ?)
       order by due_at
       limit ?
       for update skip locked)
     returning id, case_id, due_at`,
    [workerId, leaseUntil, now, now, limit],
  );
  // Fire grouped by case in case-id order — a batch locks its cases in one global order, so two
  // workers' batches cannot deadlock — and, within a case, in due order (warning before overdue).
  type Claimed = { id: string | number; case_id: string; due_at: Date };
  return (rows as Claimed[])
    .sort((a, b) => (a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0) || new Date(a.due_at).getTime() - new Date(b.due_at).getTime() || Number(a.id) - Number(b.id))
    .map((r) => ({ id: String(r.id), caseId: r.case_id }));
}

/**
 * Hands leased timers back at once, without counting the attempt: their case was busy, or the
 * batch's transaction failed before (or while) committing — firing re-checks everything under
 * the case lock, so a timer that did fire is left alone (it is no longer pending).
 */
export async function releaseTimers(db: Db, ids: string[], workerId: string): Promise<void> {
  if (ids.length) {
    await db('timers')
      .whereIn('id', ids)
      .andWhere({ locked_by: workerId, status: 'pending' })
      .update({ locked_until: null, attempts: db.raw('greatest(attempts - 1, 0)') });
  }
}

export async function getTimer(db: Db, id: string): Promise<TimerRow | undefined> {
  return db<TimerRow>('timers').where({ id }).first();
}

export async function lockTimer(db: Db, id: string): Promise<TimerRow | undefined> {
  return db<TimerRow>('timers').where({ id }).forUpdate().first();
}

export async function finishTimer(db: Db, id: string, status: 'fired' | 'cancelled', at: Date): Promise<void> {
  await db('timers').where({ id }).update({ status, fired_at: at, locked_until: null });
}

/** Records a failed attempt; the timer is retried after `retryAt`, or gives up as failed. */
export async function recordTimerFailure(db: Db, id: string, workerId: string, error: string, retryAt: Date, giveUp: boolean): Promise<void> {
  await db('timers')
    .where({ id, locked_by: workerId, status: 'pending' })
    .update({ last_error: error.slice(0, 2000), locked_until: retryAt, status: giveUp ? 'failed' : 'pending' });
}


/** A failed timer (an incident) back to pending, due at once with a fresh count of attempts. */
export async function retryFailedTimer(db: Db, id: string, r: { by: string; at: Date; resolution: string }): Promise<void> {
  await db('timers').where({ id, status: 'failed' }).update({ status: 'pending', attempts: 0, locked_by: null, locked_until: null, resolved_by: r.by, resolved_at: r.at, resolution: r.resolution });
}

/** A failed timer resolved by an admin without firing it. */
export async function resolveFailedTimer(db: Db, id: string, r: { by: string; at: Date; resolution: string }): Promise<void> {
  await db('timers').where({ id, status: 'failed' }).update({ status: 'cancelled', locked_until: null, resolved_by: r.by, resolved_at: r.at, resolution: r.resolution });
}
