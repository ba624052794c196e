import type { Knex } from 'knex';
import type { Db } from './connection.ts';
import { insertSql, updateSql, type Sql } from './sql.ts';

export type TaskStatus = 'open' | 'claimed' | 'completed' | 'cancelled';
export type EscalationLevel = 'none' | 'warned' | 'overdue' | 'red';
export const LIVE_STATUSES: TaskStatus[] = ['open', 'claimed'];

export interface TaskRow {
  id: string;
  case_id: string;
  procedure_id: string;
  region_code: string;
  state_id: string;
  title: string;
  department: string;
  role: string;
  actions: string[];
  time_limit: unknown;
  status: TaskStatus;
  assignee_id: string | null;
  opened_at: Date;
  closed_at: Date | null;
  closed_by: string | null;
  outcome: string | null;
  due_at: Date | null;
  warn_at: Date | null;
  red_at: Date | null;
  escalation: EscalationLevel;
  escalated_at: Date | null;
  deadline_note: string | null;
  /** The due date went through a provisional (unannounced) calendar year (migration 012). */
  deadline_provisional: boolean;
}

export async function insertTasks(db: Db, rows: TaskRow[]): Promise<void> {
  if (rows.length === 0) return;
  await insertTasksQuery(rows).run(db);
}

/** insertTasks (at least one row) as a statement to run with others (batch.ts). */
export function insertTasksQuery(rows: TaskRow[]): Sql {
  return insertSql('tasks', rows.map((r) => ({ ...r, time_limit: JSON.stringify(r.time_limit) })));
}

export async function liveTasksOfCase(db: Db, caseId: string): Promise<TaskRow[]> {
  return db<TaskRow>('tasks').where({ case_id: caseId }).whereIn('status', LIVE_STATUSES).orderBy('opened_at');
}

export async function tasksOfCase(db: Db, caseId: string): Promise<TaskRow[]> {
  return db<TaskRow>('tasks').where({ case_id: caseId }).orderBy([{ column: 'opened_at' }, { column: 'id' }]);
}

export async function getTask(db: Db, id: string): Promise<TaskRow | undefined> {
  return db<TaskRow>('tasks').where({ id }).first();
}

export interface TaskClosing {
  status: 'completed' | 'cancelled';
  closedAt: Date;
  closedBy: string | null;
  outcome: string | null;
}

export async function closeTask(db: Db, id: string, close: TaskClosing): Promise<void> {
  await closeTaskQuery(id, close).run(db);
}

/** closeTask as a statement to run with others (batch.ts). */
export function closeTaskQuery(id: string, close: TaskClosing): Sql {
  return updateSql('tasks', { status: close.status, closed_at: close.closedAt, closed_by: close.closedBy, outcome: close.outcome }, { id });
}

export async function escalateTask(db: Db, id: string, level: EscalationLevel, at: Date): Promise<void> {
  await db('tasks').where({ id }).update({ escalation: level, escalated_at: at });
}

export async function claimTask(db: Db, id: string, userId: string): Promise<void> {
  await db('tasks').where({ id }).update({ status: 'claimed', assignee_id: userId });
}

/**
 * Which tasks a list or a count covers. Every list is scoped by region prefix (need to know: the
 * caller's region and below) and by status; the rest narrows it. Instants are compared in SQL so
 * the buckets follow the clock the caller passes, not the timer worker's progress.
 */
export interface TaskFilter {
  regionPrefix: string;
  statuses: TaskStatus[];
  department?: string;
  /** Only tasks of these roles (a department's queue as its reviewers, or its supervisors, see it). */
  roles?: string[];
  procedureId?: string;
  escalation?: EscalationLevel;
  /** due_at <= this (overdue at that instant). */
  dueAtOrBefore?: Date;
  /** due_at > this. */
  dueAfter?: Date;
  /** due_at is null (no time limit). */
  undated?: boolean;
  /** due_at is null or > this (not overdue at that instant). */
  notOverdueAt?: Date;
  /** red_at <= this (红牌 at that instant). */
  redAtOrBefore?: Date;
  /** red_at is null or > this (not yet red). */
  notRedAt?: Date;
}

export type TaskSort = 'due' | 'opened';

/** The last row of a page, for keyset pagination: its sort value and id. */
export interface TaskKey {
  sort: TaskSort;
  at: Date | null;
  id: string;
}

export interface InboxRow extends TaskRow {
  reference: string;
  applicant_name: string;
  case_version: number;
  /** Display name of the claimant (null when unclaimed). */
  assignee_name?: string | null;
}

function applyFilter(q: Knex.QueryBuilder, f: TaskFilter): Knex.QueryBuilder {
  q.whereIn('tasks.status', f.statuses).andWhere('tasks.region_code', 'like', `${likePrefix(f.regionPrefix)}%`);
  if (f.department) q.andWhere('tasks.department', f.department);
  if (f.roles) q.whereIn('tasks.role', f.roles);
  if (f.procedureId) q.andWhere('tasks.procedure_id', f.procedureId);
  if (f.escalation) q.andWhere('tasks.escalation', f.escalation);
  if (f.dueAtOrBefore) q.andWhere('tasks.due_at', '<=', f.dueAtOrBefore);
  if (f.dueAfter) q.andWhere('tasks.due_at', '>', f.dueAfter);
  if (f.undated) q.whereNull('tasks.due_at');
  if (f.redAtOrBefore) q.andWhere('tasks.red_at', '<=', f.redAtOrBefore);
  const notOverdue = f.notOverdueAt;
  if (notOverdue) q.andWhere((w) => w.whereNull('tasks.due_at').orWhere('tasks.due_at', '>', notOverdue));
  const notRed = f.notRedAt;
  if (notRed) q.andWhere((w) => w.whereNull('tasks.red_at').orWhere('tasks.red_at', '>', notRed));
  return q;
}

/** The red delays of dated live tasks (liveRedDelays) as three columns of one select. */
const DATED_LIVE = `status in ('open', 'claimed') and due_at is not null`;
const RED_DELAY_COLUMNS = `exists (select 1 from tasks where ${DATED_LIVE} and (red_at - due_at) is null) as unbounded,
      (select extract(epoch from min(red_at - due_at)) from tasks where ${DATED_LIVE}) as min,
      (select extract(epoch from max(red_at - due_at)) from tasks where ${DATED_LIVE}) as max`;
export type RedDelays = { unbounded: boolean; min: number | null; max: number | null };
const redDelays = (r: { unbounded: boolean; min: string | number | null; max: string | number | null }): RedDelays => ({
  unbounded: r.unbounded,
  min: r.min === null ? null : Number(r.min),
  max: r.max === null ? null : Number(r.max),
});

/**
 * The red delays (red_at − due_at) of the dated live tasks: two or three probes of
 * tasks_live_red_delay (migration 017), whatever the backlog. `unbounded`: a dated live task has
 * no red date; `min`/`max` in seconds, null when no dated live task has one.
 */
export async function liveRedDelays(db: Db): Promise<RedDelays> {
  const { rows } = await db.raw(`select ${RED_DELAY_COLUMNS}`);
  return redDelays(rows[0]);
}

/**
 * A lower bound of the due dates of the live tasks overdue but not yet red (黄牌) at `now`:
 * due_at <= now < red_at <= due_at + the largest red delay (red_at − due_at) of any dated live
 * task, so due_at > now − that delay. Given as `dueAfter` it turns the overdue counts' and lists'
 * due-date range from "everything due before now" — every red task stepped over first — into the
 * last few working days. Probes of tasks_live_red_delay (liveRedDelays). A dated live task
 * without a red date (overdue for good) leaves no bound (undefined); no dated live task at all,
 * `now` (nothing is overdue). Read in its own statement, like each of the board's (they run side
 * by side, not in one snapshot): a task opened meanwhile is due in the future, not overdue.
 */
export async function overdueDueAfter(db: Db, now: Date, delays?: RedDelays): Promise<Date | undefined> {
  const r = delays ?? (await liveRedDelays(db));
  if (r.unbounded) return undefined;
  if (r.max === null) return now;
  return new Date(now.getTime() - Math.ceil(r.max * 1000));
}

/** Region codes are digits; anything else must not act as a LIKE wildcard. */
const likePrefix = (prefix: string) => prefix.replace(/[\\%_]/g, (c) => `\\${c}`);

const SORT_COLUMN: Record<TaskSort, string> = { due: 'tasks.due_at', opened: 'tasks.opened_at' };

/**
 * One page of tasks with their case's reference, in (due date, nulls last | opened), id order,
 * after `after` (keyset: the cost of a page does not grow with its depth) or at `offset`.
 *
 * After a key with a date, the page is the rows after it as a row comparison `(at, id) > (…)` —
 * an index range that starts at the key — plus, in case that runs out, the first rows without a
 * date (they sort last). An OR of the two would be a filter, not a range: every earlier row of
 * the queue read again on each page.
 */
export async function listTasks(db: Db, f: TaskFilter, page: { sort: TaskSort; after?: TaskKey; offset?: number; limit: number }): Promise<InboxRow[]> {
  const column = SORT_COLUMN[page.sort];
  const order = `${column} asc nulls last, tasks.id asc`;
  const after = page.after;
  const withCase = (q: Knex.QueryBuilder) =>
    q
      .join('cases', 'cases.id', 'tasks.case_id')
      .leftJoin('users', 'users.id', 'tasks.assignee_id')
      .select('tasks.*', 'cases.reference', 'cases.applicant_name', 'cases.version as case_version', 'users.display_name as assignee_name');
  if (after?.at === null) {
    return withCase(applyFilter(db('tasks'), f).whereNull(column).andWhere('tasks.id', '>', after.id)).orderByRaw(order).limit(page.limit);
  }
  let start = after?.at ? { at: after.at, id: after.id } : undefined;
  let rest = f;
  if (page.sort === 'due' && f.notOverdueAt) {
    // "Not overdue" is due after now or undated: the same two ranges, starting at (now, the last id).
    const bound = { at: f.notOverdueAt, id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' };
    if (!start || start.at <= bound.at) start = bound;
    rest = { ...f, notOverdueAt: undefined };
  }
  const offset = after ? 0 : (page.offset ?? 0);
  if (!start) return withCase(applyFilter(db('tasks'), f)).orderByRaw(order).limit(page.limit).offset(offset);
  const dated = applyFilter(db('tasks').select('tasks.id'), rest)
    .whereRaw(`(${column}, tasks.id) > (?, ?)`, [start.at, start.id])
    .orderByRaw(order)
    .limit(offset + page.limit);
  const undated = applyFilter(db('tasks').select('tasks.id'), rest).whereNull(column).orderBy('tasks.id').limit(offset + page.limit);
  return withCase(db('tasks').whereRaw('tasks.id in ((?) union all (?))', [dated, undated])).orderByRaw(order).limit(page.limit).offset(offset);
}

/**
 * Counts, each stopping at `cap` rows (exact below it, "cap or more" at it), all in one round
 * trip: a count never costs more than `cap` index entries however large the table grows.
 */
export async function countTasksCapped<F extends TaskFilter>(db: Db, filters: Record<string, F>, cap: number): Promise<Record<string, number>> {
  const names = Object.keys(filters);
  if (names.length === 0) return {};
  const columns = Object.fromEntries(
    names.map((name, i) => {
      const q = applyFilter(db('tasks').select(db.raw('1')), filters[name]);
      return [`c${i}`, db.count('*').from(q.limit(cap).as(`s${i}`))];
    }),
  );
  const row = (await db.select(columns).first()) as Record<string, string | number>;
  return Object.fromEntries(names.map((name, i) => [name, Number(row[`c${i}`])]));
}

/**
 * Capped counts of each (department, procedure) pair in each bucket (the board past
 * BOARD_EXACT_BELOW; `buckets` name the filters, region and dates, department and procedure left
 * to the pair), `out[i][bucket]` for `pairs[i]`. Each count walks its own department index in key order — (department, procedure_id, due_at) or, for a
 * red_at bound, (department, procedure_id, red_at) — and stops at `cap`. The ORDER BY is what
 * keeps the planner there: without it the planner took tasks_live_region for pairs it believed
 * spread evenly over the region's range and read the whole range (~75 ms each). But with the
 * department and procedure equal to constants the ORDER BY comes down to (due_at, id), which
 * tasks_live_dept_due (the department's whole queue, the procedure a filter) keeps as well: the
 * planner took it for a department's largest procedure and read 30,000 entries for 7,600 (issue
 * 11, docs/benchmarks.md). So a count with no date bound (`open`) has its procedure as a one-value
 * range (`>= p and <= p`), which only tasks_live_dept_procedure keeps in order. The pairs are a
 * VALUES list: one subquery per bucket, planned once and run per pair (32 subqueries planned one
 * by one cost 8–10 ms of planning per statement at a million), the pairs split over `statements`
 * statements side by side on the pool.
 */
export async function countPairsCapped(
  db: Db,
  pairs: Array<{ department: string; procedure_id: string }>,
  buckets: Record<string, TaskFilter>,
  cap: number,
  statements = 2,
  remainder?: PairRemainder,
): Promise<Array<Record<string, number>>> {
  const names = Object.keys(buckets);
  if (pairs.length === 0 || names.length === 0) return pairs.map(() => ({}));
  const pairRows = (f: TaskFilter) => {
    const dated = !!(f.dueAtOrBefore || f.dueAfter || f.redAtOrBefore || f.undated);
    const q = applyFilter(db('tasks').select(db.raw('1')), { ...f, department: undefined, procedureId: undefined }).whereRaw('tasks.department = v.department');
    if (dated) q.whereRaw('tasks.procedure_id = v.procedure_id');
    else q.whereRaw('tasks.procedure_id >= v.procedure_id and tasks.procedure_id <= v.procedure_id');
    return q.orderByRaw(f.redAtOrBefore ? 'tasks.department, tasks.procedure_id, tasks.red_at' : 'tasks.department, tasks.procedure_id, tasks.due_at, tasks.id');
  };
  const columns = names.map((name, k) => db.raw(`(?) as c${k}`, [db.count('*').from(pairRows(buckets[name]).limit(cap).as(`s${k}`))]));
  // The remainder: its parts' sum plus its rest ranges, these read only up to what the parts leave
  // of the cap. The parts are counted once in a lateral subquery (OFFSET 0: not pulled up, else
  // each reference to a part is its own subplan, run again).
  const derived = () => {
    if (!remainder) return [];
    const sum = remainder.parts.map((p) => `a.c${names.indexOf(p)}`).join(' + ');
    const rest = remainder.rest.map((f) => pairRows(f));
    const union = db.raw(rest.map(() => '(?)').join(' union all '), rest);
    return [db.raw(`least(?::int, ${sum} + (select count(*) from (select 1 from (?) u limit greatest(0, ?::int - (${sum}))) r)) as c${names.length}`, [cap, union, cap])];
  };
  const n = Math.max(1, Math.min(statements, pairs.length));
  const parts = Array.from({ length: n }, (_, i) => pairs.map((p, j) => ({ ...p, j })).filter((p) => p.j % n === i));
  const rows = await Promise.all(
    parts.map(async (part) => {
      const values = db.raw(`(values ${part.map(() => '(?::int, ?::text, ?::text)').join(', ')}) as v (j, department, procedure_id)`, part.flatMap((p) => [p.j, p.department, p.procedure_id]));
      const q = db
        .select('v.j', 'a.*', ...derived())
        .from(values)
        .joinRaw('cross join lateral (select ? offset 0) a', [db.raw(columns.map(() => '?').join(', '), columns)]);
      return (await q) as Array<Record<string, string | number>>;
    }),
  );
  const out = pairs.map(() => ({}) as Record<string, number>);
  const all = remainder ? [...names, remainder.name] : names;
  for (const r of rows.flat()) for (const [k, name] of all.entries()) out[Number(r.j)][name] = Number(r[`c${k}`]);
  return out;
}

/**
 * A count of countPairsCapped made of others: `parts` (names of its buckets) plus the `rest`
 * filters, all pairwise disjoint and together exactly the count's tasks. Capped as the others.
 */
export interface PairRemainder {
  name: string;
  parts: string[];
  rest: TaskFilter[];
}

export interface BoardRow {
  department: string;
  procedure_id: string;
  open: number | string;
  due_soon: number | string;
  overdue: number | string;
  red: number | string;
}

/**
 * Live tasks of a region and below, counted per department and procedure: all, due within the
 * window (now, dueSoonUntil], overdue but not yet red, red — each from the due dates at `now`.
 */
export async function boardCounts(db: Db, regionPrefix: string, now: Date, dueSoonUntil: Date): Promise<BoardRow[]> {
  return applyFilter(db('tasks'), { regionPrefix, statuses: LIVE_STATUSES })
    .select('tasks.department', 'tasks.procedure_id')
    .select(
      db.raw('count(*) as open'),
      db.raw('count(*) filter (where tasks.due_at > ? and tasks.due_at <= ?) as due_soon', [now, dueSoonUntil]),
      db.raw('count(*) filter (where tasks.due_at <= ? and (tasks.red_at is null or tasks.red_at > ?)) as overdue', [now, now]),
      db.raw('count(*) filter (where tasks.red_at <= ?) as red', [now]),
    )
    .groupBy('tasks.department', 'tasks.procedure_id')
    .orderBy(['tasks.department', 'tasks.procedure_id']);
}

/**
 * The (department, procedure) pairs that have live tasks, anywhere: a skip scan of
 * tasks_live_dept_procedure, one index probe per pair, however many tasks each pair holds.
 * `department >= ''` only gives the first probe a start key (every department matches).
 */
const LIVE_PAIRS = `with recursive p as (
      (select department, procedure_id from tasks where status in ('open', 'claimed') and department >= '' order by department, procedure_id limit 1)
      union all
      select x.department, x.procedure_id from p cross join lateral (
        select t.department, t.procedure_id from tasks t
        where t.status in ('open', 'claimed') and t.department >= p.department and (t.department, t.procedure_id) > (p.department, p.procedure_id)
        order by t.department, t.procedure_id limit 1) x
    )`;

/**
 * Those pairs and liveRedDelays in one statement (the board needs both before its counts: one
 * round trip on its critical path, not two side by side competing for the pool).
 */
export async function liveTaskPairsAndRedDelays(db: Db): Promise<{ pairs: Array<{ department: string; procedure_id: string }>; delays: RedDelays }> {
  const { rows } = await db.raw(`${LIVE_PAIRS} select
      (select coalesce(json_agg(json_build_object('department', department, 'procedure_id', procedure_id) order by department, procedure_id), '[]'::json) from p) as pairs,
      ${RED_DELAY_COLUMNS}`);
  const r = rows[0];
  // pg parses json; PGlite too — a string only if a driver left it as text.
  return { pairs: typeof r.pairs === 'string' ? JSON.parse(r.pairs) : r.pairs, delays: redDelays(r) };
}

/** 委派 / 改派: the task is claimed by `userId`, whoever held it before. */
export async function assignTask(db: Db, id: string, userId: string): Promise<void> {
  await db('tasks').where({ id }).whereIn('status', LIVE_STATUSES).update({ status: 'claimed', assignee_id: userId });
}

/** A claimed task goes back to its department's queue. */
export async function unclaimTask(db: Db, id: string): Promise<void> {
  await db('tasks').where({ id, status: 'claimed' }).update({ status: 'open', assignee_id: null });
}

/**
 * Live tasks that have been warned or are overdue in a region and below, oldest deadline first:
 * the first `limit` of each level (an index range of tasks_live_escalation each, already in
 * (due_at, id) order), merged and cut to `limit` before anything else is read, so only those
 * `limit` tasks are fetched and joined to their case — not `limit` of each level (three times as
 * many heap rows, two thirds thrown away after the sort), and not a sort of every escalated task.
 */
export async function listEscalated(db: Db, regionPrefix: string, limit: number): Promise<InboxRow[]> {
  const level = (escalation: EscalationLevel) =>
    applyFilter(db('tasks').select('tasks.id', 'tasks.due_at'), { regionPrefix, statuses: LIVE_STATUSES, escalation }).orderBy([{ column: 'tasks.due_at' }, { column: 'tasks.id' }]).limit(limit);
  const first = db.raw('((?) union all (?) union all (?) order by due_at, id limit ?) as e', [level('warned'), level('overdue'), level('red'), limit]);
  return db
    .from(first)
    .join('tasks', 'tasks.id', 'e.id')
    .join('cases', 'cases.id', 'tasks.case_id')
    .leftJoin('users', 'users.id', 'tasks.assignee_id')
    .select('tasks.*', 'cases.reference', 'cases.applicant_name', 'cases.version as case_version', 'users.display_name as assignee_name')
    .orderBy([{ column: 'tasks.due_at' }, { column: 'tasks.id' }]);
}

/** A live task whose step a new definition version describes differently (title, actions, limit): same task, new description. */
export async function redescribeTask(db: Db, id: string, meta: { title: string; actions: string[]; time_limit: unknown }): Promise<void> {
  await db('tasks').where({ id }).update({ title: meta.title, actions: meta.actions, time_limit: JSON.stringify(meta.time_limit) });
}
