import type { Db } from './connection.ts';
import { updateSql, type Sql } from './sql.ts';
import { caseBusy } from '../engine/errors.ts';
import { LIVE_STATUSES, liveTasksOfCase, type TaskRow } from './tasks.ts';
import { isWireClient, literal, sendWire } from './wire.ts';

export interface CaseRow {
  id: string;
  reference: string;
  tracking_code_hash: string;
  procedure_id: string;
  definition_version: number;
  region_code: string;
  status: CaseStatus;
  state_value: unknown;
  snapshot: any;
  version: number;
  applicant_name: string;
  applicant: Record<string, any>;
  application: Record<string, any>;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  /** Whole-case due date; moves later by clock-stopped time. */
  due_at: Date | null;
  clock_paused_at: Date | null;
  deadline_note: string | null;
  /** due_at went through a provisional (unannounced) calendar year (migration 012). */
  deadline_provisional: boolean;
  /** Hash of the latest event (the tamper-evident chain's head). */
  chain_head: string | null;
  /** When the case reached a final state (migration 006); null while running. */
  closed_at?: Date | null;
}

export type CaseStatus = 'running' | 'done';

const json = (v: unknown) => JSON.stringify(v);

export async function insertCase(db: Db, row: CaseRow): Promise<void> {
  await db('cases').insert({
    ...row,
    state_value: json(row.state_value),
    snapshot: json(row.snapshot),
    applicant: json(row.applicant),
    application: json(row.application),
  });
}

export async function getCase(db: Db, id: string): Promise<CaseRow | undefined> {
  return db<CaseRow>('cases').where({ id }).first();
}

export async function getCaseByReference(db: Db, reference: string): Promise<CaseRow | undefined> {
  return db<CaseRow>('cases').where({ reference }).first();
}

/** Locks the case row for the rest of the transaction: every writer of a case goes through here first. */
export async function lockCase(db: Db, id: string): Promise<CaseRow | undefined> {
  // NO KEY UPDATE: writers of one case exclude each other, yet rows that merely reference the case
  // (timers, tasks, events inserted elsewhere) are not blocked by the lock.
  return queued(id, (noWait) => {
    const query = db<CaseRow>('cases').where({ id }).forNoKeyUpdate();
    if (noWait) query.noWait();
    return query.first();
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * lockCase and the case's live tasks, on PostgreSQL in one round trip (with the transaction's
 * deferred BEGIN in front, db/wire.ts): two statements in one simple query. The tasks are read by
 * a statement of their own after the lock is granted, so under READ COMMITTED they include what
 * the writer it waited for committed — as two separate queries would.
 */
export async function lockCaseWithLiveTasks(db: Db, id: string): Promise<{ row: CaseRow | undefined; live: TaskRow[] }> {
  if (!isWireClient(db)) {
    const row = await lockCase(db, id);
    return { row, live: row ? await liveTasksOfCase(db, id) : [] };
  }
  // A case id is inlined into the text only as a checked uuid; anything else names no case.
  if (!UUID.test(id)) return { row: undefined, live: [] };
  const idLiteral = literal(id.toLowerCase());
  const [rows, live] = await queued(id, (noWait) =>
    sendWire(db, [
      `select * from cases where id = ${idLiteral} limit 1 for no key update${noWait ? ' nowait' : ''}`,
      `select * from tasks where case_id = ${idLiteral} and status in (${LIVE_STATUSES.map(literal).join(', ')}) order by opened_at asc`,
    ]),
  );
  const row = rows[0] as CaseRow | undefined;
  return { row, live: row ? (live as TaskRow[]) : [] };
}

/**
 * Case locks being waited for in this process, by case id. One command per case may wait (up to
 * the pool's lock_timeout, DB_TIMEOUTS.lock) for the command ahead of it — the usual race of two
 * clicks or two departments. Any further command on that case is refused at once (NOWAIT →
 * CASE_BUSY) instead of taking a pooled connection to wait with: a case locked from outside (a
 * DBA session, a report) then costs the service one connection, not the pool.
 */
const waiting = new Map<string, number>();

async function queued<T>(id: string, lock: (noWait: boolean) => Promise<T>): Promise<T> {
  const queuedBefore = waiting.get(id) ?? 0;
  waiting.set(id, queuedBefore + 1);
  try {
    return await lock(queuedBefore > 0);
  } catch (err) {
    // 55P03: NOWAIT found the row locked, or lock_timeout expired while waiting.
    if ((err as { code?: string }).code === '55P03') throw caseBusy();
    throw err;
  } finally {
    const left = (waiting.get(id) ?? 1) - 1;
    if (left > 0) waiting.set(id, left);
    else waiting.delete(id);
  }
}

export interface NextCaseState {
  status: CaseStatus;
  stateValue: unknown;
  snapshot: unknown;
  updatedAt: Date;
  dueAt?: Date | null;
  clockPausedAt?: Date | null;
  deadlineNote?: string | null;
  deadlineProvisional?: boolean;
  chainHead: string;
  closedAt?: Date | null;
}

/** Writes the next snapshot; returns false if someone else advanced the case first. */
export async function saveTransition(db: Db, id: string, expectedVersion: number, next: NextCaseState): Promise<boolean> {
  return (await saveTransitionQuery(id, expectedVersion, next).run(db)).length === 1;
}

/** saveTransition as a statement to run with others (batch.ts): returns the case's id if saved. */
export function saveTransitionQuery(id: string, expectedVersion: number, next: NextCaseState): Sql {
  // updateSql leaves out the undefined ones: those columns keep their values.
  return updateSql(
    'cases',
    {
      status: next.status,
      state_value: json(next.stateValue),
      snapshot: json(next.snapshot),
      version: expectedVersion + 1,
      updated_at: next.updatedAt,
      chain_head: next.chainHead,
      due_at: next.dueAt,
      clock_paused_at: next.clockPausedAt,
      deadline_note: next.deadlineNote,
      deadline_provisional: next.deadlineProvisional,
      closed_at: next.closedAt,
    },
    { id, version: expectedVersion },
    'id',
  );
}

/** `YYYY-MM-DD` of an instant in China time (UTC+8, no daylight saving), computed in SQL. */
const chinaDaySql = (column: string) => `to_char((${column} at time zone 'UTC') + interval '8 hours', 'YYYY-MM-DD')`;

const chinaDayStart = (day: string) => new Date(Date.parse(`${day}T00:00:00+08:00`));

/**
 * Cases of a region and below opened, and closed, per China-time day from `firstDay`: the days
 * before `liveFrom` are settled (no case can still open or close on them: created_at and closed_at
 * are each written once, at the writing transaction's "now") and come from board_daily_cases, the
 * ones it lacks counted once and kept (insert … on conflict do nothing: racing processes write the
 * same numbers); `liveFrom` and later are counted from the cases each time. The reads run side by
 * side on the pool.
 */
export async function openedAndClosedPerDay(db: Db, regionPrefix: string, firstDay: string, liveFrom: string): Promise<{ opened: Map<string, number>; closed: Map<string, number> }> {
  const like = `${regionPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const perDay = async (column: 'created_at' | 'closed_at', from: Date, until?: Date) => {
    const q = db('cases').where('region_code', 'like', like).andWhere(column, '>=', from);
    if (until) q.andWhere(column, '<', until);
    const rows: Array<{ day: string; n: string | number }> = await q.select(db.raw(`${chinaDaySql(column)} as day`), db.raw('count(*) as n')).groupByRaw('1');
    return new Map(rows.map((r) => [r.day, Number(r.n)]));
  };
  const [kept, liveOpened, liveClosed] = await Promise.all([
    firstDay < liveFrom
      ? (db('board_daily_cases')
          .where({ region_prefix: regionPrefix })
          .andWhere('day', '>=', firstDay)
          .andWhere('day', '<', liveFrom)
          .select(db.raw(`to_char(day, 'YYYY-MM-DD') as day`), 'opened', 'closed') as Promise<Array<{ day: string; opened: number; closed: number }>>)
      : Promise.resolve([]),
    perDay('created_at', chinaDayStart(liveFrom)),
    perDay('closed_at', chinaDayStart(liveFrom)),
  ]);
  const opened = new Map(liveOpened);
  const closed = new Map(liveClosed);
  const settle = (rows: Array<{ day: string; opened: number; closed: number }>) => {
    for (const r of rows) {
      opened.set(r.day, r.opened);
      closed.set(r.day, r.closed);
    }
  };
  settle(kept);
  const have = new Set(kept.map((r) => r.day));
  const missing: string[] = [];
  for (let day = firstDay; day < liveFrom; day = nextDay(day)) if (!have.has(day)) missing.push(day);
  if (missing.length > 0) {
    const from = chinaDayStart(missing[0]);
    const until = chinaDayStart(liveFrom);
    const [o, c] = await Promise.all([perDay('created_at', from, until), perDay('closed_at', from, until)]);
    const rows = missing.map((day) => ({ region_prefix: regionPrefix, day, opened: o.get(day) ?? 0, closed: c.get(day) ?? 0 }));
    // On a read-only replica (25006) the days are counted, not kept: the primary keeps them.
    await db('board_daily_cases')
      .insert(rows)
      .onConflict(['region_prefix', 'day'])
      .ignore()
      .catch((e: { code?: string }) => {
        if (e.code !== '25006') throw e;
      });
    settle(rows);
  }
  return { opened, closed };
}

const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** Running cases of one procedure version after `afterId`, in id order: one batch of a definition migration. */
export async function runningCasesOfVersion(db: Db, procedureId: string, version: number, regionPrefix: string, afterId: string | null, limit: number): Promise<CaseRow[]> {
  const q = db<CaseRow>('cases').where({ procedure_id: procedureId, definition_version: version, status: 'running' });
  if (regionPrefix) q.andWhere('region_code', 'like', `${regionPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (afterId) q.andWhere('id', '>', afterId);
  return q.orderBy('id').limit(limit);
}

/** Writes a migrated case: its new definition version with its snapshot (definition migration, docs/versioning.md). */
export async function saveMigration(
  db: Db,
  id: string,
  expectedVersion: number,
  next: { definitionVersion: number; status: CaseStatus; stateValue: unknown; snapshot: unknown; updatedAt: Date; chainHead: string; dueAt?: Date | null; clockPausedAt?: Date | null; deadlineNote?: string | null },
): Promise<boolean> {
  const updated = await db('cases')
    .where({ id, version: expectedVersion })
    .update({
      definition_version: next.definitionVersion,
      status: next.status,
      state_value: json(next.stateValue),
      snapshot: json(next.snapshot),
      version: expectedVersion + 1,
      updated_at: next.updatedAt,
      chain_head: next.chainHead,
      ...(next.dueAt !== undefined ? { due_at: next.dueAt } : {}),
      ...(next.clockPausedAt !== undefined ? { clock_paused_at: next.clockPausedAt } : {}),
      ...(next.deadlineNote !== undefined ? { deadline_note: next.deadlineNote } : {}),
    });
  return updated === 1;
}

/** Replaces the (sealed) applicant record: a corrected bank card for 发放 (src/payments/correction.ts). */
export async function updateApplicant(db: Db, id: string, applicant: Record<string, unknown>, at: Date): Promise<void> {
  await db('cases').where({ id }).update({ applicant: json(applicant), updated_at: at });
}
