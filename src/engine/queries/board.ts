import { departmentName } from '../../../workflows/index.ts';
import type { Db } from '../../db/connection.ts';
import * as cases from '../../db/cases.ts';
import { leadCounts } from '../../db/leads.ts';
import * as tasks from '../../db/tasks.ts';
import { taskActions, type Actor } from '../authorization.ts';
import { CalendarYearMissingError, addDays, chinaDay, endOfChinaDay, type WorkCalendar } from '../calendar.ts';
import { DomainError } from '../errors.ts';
import { inboxItem, remainingFn } from '../views.ts';
import type { ReadContext } from './context.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { COUNT_CAP } from './inbox.ts';
import { getRegion } from '../../db/regions.ts';

/**
 * The supervision board (督办看板): live tasks of the supervisor's region and below, counted by
 * department and by procedure — all open, due within 2 working days, overdue (黄牌), red (红牌) —
 * each number with the query that lists the tasks behind it, and cases opened and closed per day.
 *
 * The buckets come from the due dates at the moment of the request (due_at, red_at), not from the
 * escalation the timer worker records, so the board is right even while the worker lags. They
 * are disjoint: dueSoon = due in (now, end of the 2nd working day]; overdue = due passed, not yet
 * red; red = red_at passed. `open` counts every live task.
 */
export const BUCKETS = ['open', 'dueSoon', 'overdue', 'red'] as const;
export type Bucket = (typeof BUCKETS)[number];
export const DUE_SOON_WORKING_DAYS = 2;
export const DAILY_DAYS = 30;
/**
 * The last days of the daily figures counted live on every request (today and yesterday); older
 * ones are settled and kept. A day is settled a full day after it ends, a margin for a transaction
 * that took its "now" before midnight and commits after it, and for clocks of several processes.
 */
export const LIVE_DAYS = 2;
/** The earlier board lists this many escalated tasks, oldest deadline first (listSupervisionTasks pages through all). */
export const LEGACY_LIST = 50;

function assertSupervisor(actor: Actor): void {
  if (!actor.roles.includes('supervisor') && !actor.roles.includes('admin')) {
    throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅督办人员可查看时限督办情况');
  }
}

/** End of the Nth working day from now; where that year's holidays are not loaded, weekdays only. */
function dueSoonUntil(calendar: WorkCalendar, now: Date): Date {
  try {
    return calendar.addWorkingDays(now, DUE_SOON_WORKING_DAYS);
  } catch (e) {
    if (!(e instanceof CalendarYearMissingError)) throw e;
    let day = chinaDay(now);
    for (let n = 0; n < DUE_SOON_WORKING_DAYS; ) {
      day = addDays(day, 1);
      if (![0, 6].includes(new Date(`${day}T00:00:00Z`).getUTCDay())) n++;
    }
    return endOfChinaDay(day);
  }
}

/** `overdueAfter`: tasks.overdueDueAfter — a bound of the overdue range that leaves the bucket as it is. */
function bucketFilter(bucket: Bucket, now: Date, soon: Date, overdueAfter?: Date): Partial<tasks.TaskFilter> {
  switch (bucket) {
    case 'open':
      return {};
    case 'dueSoon':
      return { dueAfter: now, dueAtOrBefore: soon };
    case 'overdue':
      return { dueAtOrBefore: now, notRedAt: now, ...(overdueAfter ? { dueAfter: overdueAfter } : {}) };
    case 'red':
      return { redAtOrBefore: now };
  }
}

/** Where the tasks behind a number are listed. */
function listQueries(scope: { department?: string; procedure?: string }) {
  return Object.fromEntries(
    BUCKETS.map((bucket) => [bucket, `/api/supervision/tasks?${new URLSearchParams({ ...scope, bucket }).toString()}`]),
  ) as Record<Bucket, string>;
}

type Counts = Record<Bucket, number> & { capped: Bucket[] };
const zero = (): Counts => ({ open: 0, dueSoon: 0, overdue: 0, red: 0, capped: [] });
const add = (into: Counts, r: Cell) => {
  for (const b of BUCKETS) {
    into[b] += r[b];
    if (r.capped.includes(b) && !into.capped.includes(b)) into.capped.push(b);
  }
};

/**
 * The board counts exactly (one index-only pass over the region's live tasks) while the region
 * holds fewer live tasks than this; past it, each number per department and procedure is counted
 * up to COUNT_CAP and a number that reached it is marked capped ("10,000+"), so a province's
 * board costs at most the cap per number, not its whole backlog.
 */
export const BOARD_EXACT_BELOW = 50_000;

interface Cell extends Record<Bucket, number> {
  department: string;
  procedure_id: string;
  capped: Bucket[];
}

/**
 * A county (6-digit code) or above: its board is expected past BOARD_EXACT_BELOW, so the capped
 * counts run first and the 50,000-entry exactness probe only when they do not settle it.
 */
const SPECULATE_UP_TO_CODE_LENGTH = 6;

/**
 * `countsSent` is called once the main counting statements have asked the pool for connections
 * (supervisionBoard sends its other parts after them: the counts are the critical path, and
 * with the pool busy with the small parts they waited 5–6 ms for a connection at the million).
 */
export async function boardCells(
  db: Db,
  regionPrefix: string,
  now: Date,
  soon: Date,
  limits = { exactBelow: BOARD_EXACT_BELOW, cap: COUNT_CAP },
  countsSent: () => void = () => {},
): Promise<Cell[]> {
  const exact = async () => {
    const counting = tasks.boardCounts(db, regionPrefix, now, soon);
    countsSent();
    return (await counting).map((r) => ({
      department: r.department,
      procedure_id: r.procedure_id,
      open: Number(r.open),
      dueSoon: Number(r.due_soon),
      overdue: Number(r.overdue),
      red: Number(r.red),
      capped: [],
    }));
  };
  const liveBelowExact = async () => (await tasks.countTasksCapped(db, { live: { regionPrefix, statuses: tasks.LIVE_STATUSES } }, limits.exactBelow)).live < limits.exactBelow;
  if (regionPrefix.length > SPECULATE_UP_TO_CODE_LENGTH) {
    // A township: its live tasks are one range of tasks_live_region, counted exactly below the limit.
    if (await liveBelowExact()) return exact();
    return cappedCells(db, regionPrefix, now, soon, limits.cap, countsSent);
  }
  // The same answer, cheaper for a large region: the capped counts' open numbers add up to a lower
  // bound of its live tasks — at or past the limit, the capped answer stands; below it with no
  // number capped, every number is exact already (each at most its pair's open count).
  const cells = await cappedCells(db, regionPrefix, now, soon, limits.cap, countsSent);
  const lower = cells.reduce((n, c) => n + c.open, 0);
  if (lower >= limits.exactBelow) return cells;
  if (cells.every((c) => c.capped.length === 0)) return cells;
  return (await liveBelowExact()) ? exact() : cells;
}

/**
 * Each (department, procedure) pair's numbers counted up to `cap`, the ones that reached it marked.
 * `open` is not counted on its own (that read the pair's first `cap` tasks again, the other buckets'
 * among them): it is red + overdue + dueSoon + the rest — not red, due after `soon` or undated —
 * and the rest is read only up to what the three leave of the cap. Those four are disjoint while
 * no live task turns red before it is due (red_at >= due_at, which deadlines.ts ensures); if one
 * does (a direct edit), dueSoon may hold red tasks, so the rest starts at `now` instead and
 * dueSoon is left out of the sum. Exact either way.
 */
async function cappedCells(db: Db, regionPrefix: string, now: Date, soon: Date, cap: number, countsSent: () => void = () => {}): Promise<Cell[]> {
  const { pairs, delays } = await tasks.liveTaskPairsAndRedDelays(db);
  const overdueAfter = await tasks.overdueDueAfter(db, now, delays);
  const counted = BUCKETS.filter((b) => b !== 'open');
  const buckets = Object.fromEntries(counted.map((b) => [b, { regionPrefix, statuses: tasks.LIVE_STATUSES, ...bucketFilter(b, now, soon, overdueAfter) }]));
  const redNotBeforeDue = delays.min === null || delays.min >= 0;
  // `soon` is after `now` on the board; the check keeps the rest disjoint from overdue for any caller.
  const restFrom = redNotBeforeDue && soon > now ? soon : now;
  const rest = { regionPrefix, statuses: tasks.LIVE_STATUSES, notRedAt: now };
  const counting = tasks.countPairsCapped(db, pairs, buckets, cap, 2, {
    name: 'open',
    parts: redNotBeforeDue ? ['red', 'overdue', 'dueSoon'] : ['red', 'overdue'],
    rest: [
      { ...rest, dueAfter: restFrom },
      { ...rest, undated: true },
    ],
  });
  countsSent();
  const n = await counting;
  return pairs
    .map((p, i) => {
      const cell: Cell = { department: p.department, procedure_id: p.procedure_id, open: 0, dueSoon: 0, overdue: 0, red: 0, capped: [] };
      for (const b of BUCKETS) {
        cell[b] = n[i][b];
        if (cell[b] >= cap) cell.capped.push(b);
      }
      return cell;
    })
    .filter((c) => c.open > 0);
}

export async function supervisionBoard(ctx: ReadContext, db: Db, actor: Actor) {
  assertSupervisor(actor);
  const now = ctx.clock();
  const calendar = await ctx.calendars.forRegion(db, actor.regionCode);
  const soon = dueSoonUntil(calendar, now);
  // Cases opened and closed per China-time day, the last DAILY_DAYS days including today: today
  // and yesterday counted live, the days before kept once counted (openedAndClosedPerDay).
  const today = chinaDay(now);
  const firstDay = addDays(today, -(DAILY_DAYS - 1));
  // The board's parts are independent: run side by side on the pool, not one after the other —
  // the others asked for after the counts' statements (the longest), which then do not queue
  // behind them for a connection. `countsSent` is also called when the counts fail or settle
  // early, so the others always go; and one Promise.all holds both, so no rejection goes unheard.
  let countsSent!: () => void;
  const countsQueued = new Promise<void>((resolve) => (countsSent = resolve));
  const counting = boardCells(db, actor.regionCode, now, soon, undefined, countsSent).finally(countsSent);
  const others = countsQueued.then(() =>
    Promise.all([
      cases.openedAndClosedPerDay(db, actor.regionCode, firstDay, addDays(today, -(LIVE_DAYS - 1))),
      // The earlier board: the warned, overdue and red tasks (recorded escalation level) with the
      // oldest deadlines (LEGACY_LIST), and its `totals`. Of these only `warned` is counted here
      // (up to the cap): overdue and red are the board's own numbers (below), which the counts
      // read already — two capped counts of up to 10,000 entries each saved.
      tasks.listEscalated(db, actor.regionCode, LEGACY_LIST),
      tasks.countTasksCapped(db, { warned: { regionPrefix: actor.regionCode, statuses: tasks.LIVE_STATUSES, escalation: 'warned', dueAfter: now } }, COUNT_CAP),
      // 主动发现 (docs/leads.md): the region's leads; overdue = open past its review due date, now.
      leadCounts(db, actor.regionCode, now),
      getRegion(db, actor.regionCode),
    ]),
  );
  const [rows, [perDay, escalated, warned, leadBlock, region]] = await Promise.all([counting, others]);
  const byDepartment = new Map<string, Counts>();
  const byProcedure = new Map<string, Counts>();
  const total = zero();
  for (const r of rows) {
    add(total, r);
    add(byDepartment.get(r.department) ?? byDepartment.set(r.department, zero()).get(r.department)!, r);
    add(byProcedure.get(r.procedure_id) ?? byProcedure.set(r.procedure_id, zero()).get(r.procedure_id)!, r);
  }
  const daily = Array.from({ length: DAILY_DAYS }, (_, i) => {
    const day = addDays(firstDay, i);
    return { day, opened: perDay.opened.get(day) ?? 0, closed: perDay.closed.get(day) ?? 0 };
  });
  const remaining = remainingFn(calendar, now);
  const legacy = new Map<string, Array<ReturnType<typeof inboxItem>>>();
  for (const r of escalated) {
    const def = ctx.registry.latest(r.procedure_id);
    const view = inboxItem(def, { ...r, actions: taskActions(actor, def, r) }, remaining);
    legacy.set(r.department, [...(legacy.get(r.department) ?? []), view]);
  }
  // A sum of per-pair numbers each stopped at the cap: exact while no pair reached it, and at or
  // past the cap as soon as one did — so cut to the cap it is the "up to 10,000" count.
  const capped = (n: number) => Math.min(n, COUNT_CAP);

  return {
    regionCode: actor.regionCode,
    regionName: region?.name ?? actor.regionCode,
    asOf: now.toISOString(),
    dueSoonUntil: soon.toISOString(),
    countCap: COUNT_CAP,
    counts: {
      total: { ...total, tasks: listQueries({}) },
      byDepartment: [...byDepartment].map(([department, c]) => ({ department, departmentName: departmentName(department), ...c, tasks: listQueries({ department }) })),
      byProcedure: [...byProcedure].map(([procedureId, c]) => ({
        procedureId,
        procedureName: ctx.registry.latest(procedureId).name,
        ...c,
        tasks: listQueries({ procedure: procedureId }),
      })),
    },
    daily,
    leads: { ...leadBlock, list: { open: '/api/leads?status=open', overdue: '/api/leads?overdue=true', converted: '/api/leads?status=converted', closed: '/api/leads?status=closed' } },
    totals: { warned: capped(warned.warned), overdue: capped(total.overdue), red: capped(total.red) },
    departments: [...legacy].map(([department, items]) => ({ department, departmentName: departmentName(department), tasks: items })),
  };
}

/** A task's bucket besides `open`, by the same definitions as the counts. */
function levelOf(r: { due_at: Date | null; red_at: Date | null }, now: Date, soon: Date): Exclude<Bucket, 'open'> | null {
  if (r.red_at && r.red_at <= now) return 'red';
  if (r.due_at && r.due_at <= now) return 'overdue';
  if (r.due_at && r.due_at <= soon) return 'dueSoon';
  return null;
}

export interface SupervisionTasksQuery {
  department?: string;
  procedureId?: string;
  bucket: Bucket;
  cursor?: string;
  page: number;
  pageSize: number;
}

/** The tasks behind one number of the board, due date first (unknown last), one page at a time. */
export async function supervisionTasks(ctx: ReadContext, db: Db, actor: Actor, q: SupervisionTasksQuery) {
  assertSupervisor(actor);
  const now = ctx.clock();
  const calendar = await ctx.calendars.forRegion(db, actor.regionCode);
  const soon = dueSoonUntil(calendar, now);
  const after = q.cursor ? decodeCursor(q.cursor, 'due') : undefined;
  const filter: tasks.TaskFilter = {
    regionPrefix: actor.regionCode,
    statuses: tasks.LIVE_STATUSES,
    department: q.department,
    procedureId: q.procedureId,
    ...bucketFilter(q.bucket, now, soon, q.bucket === 'overdue' ? await tasks.overdueDueAfter(db, now) : undefined),
  };
  const [rows, { total }] = await Promise.all([
    tasks.listTasks(db, filter, { sort: 'due', after, offset: (q.page - 1) * q.pageSize, limit: q.pageSize + 1 }),
    tasks.countTasksCapped(db, { total: filter }, COUNT_CAP),
  ]);
  const page = rows.slice(0, q.pageSize);
  const last = page.at(-1);
  const remaining = remainingFn(calendar, now);
  return {
    items: page.map((r) => {
      const def = ctx.registry.latest(r.procedure_id);
      return { ...inboxItem(def, { ...r, actions: taskActions(actor, def, r) }, remaining), level: levelOf(r, now, soon) };
    }),
    total: Math.min(total, COUNT_CAP),
    totalExact: total < COUNT_CAP,
    page: q.page,
    pageSize: q.pageSize,
    sort: 'due' as const,
    nextCursor: rows.length > q.pageSize && last ? encodeCursor({ sort: 'due', at: last.due_at, id: last.id }) : null,
    bucket: q.bucket,
    asOf: now.toISOString(),
    dueSoonUntil: soon.toISOString(),
  };
}
