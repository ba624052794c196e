import { DEPARTMENTS, departmentName, type ProcedureDefinition, type StateMeta } from '../../../workflows/index.ts';
import { leadMonthCounts } from '../../db/leads.ts';
import type { Db } from '../../db/connection.ts';
import { getRegion } from '../../db/regions.ts';
import { coversRegion, type Actor } from '../authorization.ts';
import type { WorkCalendar } from '../calendar.ts';
import { DomainError } from '../errors.ts';
import type { ReadContext } from './context.ts';
import { PAYMENT_ONLY_EVENTS } from '../decided.ts';

/**
 * 月报告 (monthly report): for a region and the regions below it and one China-time month, per
 * procedure (cases) and per department (tasks), the figures of docs/reports.md — all computed
 * from the event log (case_events) and the task rows as they stood at the month's end, so a
 * closed month's report never changes when its cases move on.
 *
 * The statements live here (not in src/db/) because nothing else runs them; the arithmetic is the
 * engine's own working-day calendar (calendar.ts), replayed over each case's events.
 */

/** Events that accept an application (受理); 急难 acceptance (临时救助) counts too. */
export const ACCEPT_EVENTS = ['ACCEPT', 'ACCEPT_URGENT'];
/** 不予受理. */
export const NOT_ACCEPTED_EVENTS = ['REJECT_APPLICATION'];
/** A 补正 notice: the window's one-time notice, or a department branch's own (`<BRANCH>_SUPPLEMENT_REQUESTED`). */
export const isSupplementRequest = (type: string) => type === 'REQUEST_SUPPLEMENT' || type.endsWith('_SUPPLEMENT_REQUESTED');

/**
 * Service-duty events (issue 9, 好差评 / 整改 / 回访) the later work writes; the report reads them
 * already. Until one is recorded in the report's scope and month, its columns are null (未记录).
 */
export const SERVICE_EVENTS = {
  /** payload.level: one of RATING_LEVELS. */
  rated: 'CASE_RATED',
  /** Completes the 差评整改 task (tasks.outcome = RECTIFICATION_DONE); on time = closed by its due date. */
  rectified: 'RECTIFICATION_DONE',
  /** payload.reached: boolean (the applicant was reached). */
  followedUp: 'FOLLOW_UP_DONE',
} as const;
export const RATING_LEVELS = ['verySatisfied', 'satisfied', 'basicallySatisfied', 'dissatisfied', 'veryDissatisfied'] as const;
export type RatingLevel = (typeof RATING_LEVELS)[number];
export const RATING_LABELS: Record<RatingLevel, string> = {
  verySatisfied: '非常满意',
  satisfied: '满意',
  basicallySatisfied: '基本满意',
  dissatisfied: '不满意',
  veryDissatisfied: '非常不满意',
};
/** 好评: the three upper levels; the satisfaction rate is their share of all ratings. */
const GOOD: RatingLevel[] = ['verySatisfied', 'satisfied', 'basicallySatisfied'];

export const MONTH_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

export interface MonthlyReportQuery {
  /** YYYY-MM, China time. */
  month: string;
  /** Defaults to the caller's region. */
  regionCode?: string;
}

export type Ratings = Record<RatingLevel, number> & { total: number };

export interface ReportRow {
  received: number;
  accepted: number;
  notAccepted: number;
  completed: number;
  completedOnTime: number;
  onTimeRate: number | null;
  open: number;
  overdue: number;
  avgHandlingWorkingDays: number | null;
  p90HandlingWorkingDays: number | null;
  supplemented: number;
  supplementRate: number | null;
  ratings: Ratings | null;
  satisfactionRate: number | null;
  rectificationsDone: number | null;
  rectificationsOnTime: number | null;
  followUpsDone: number | null;
  followUpsReached: number | null;
  followUpRate: number | null;
}

// ---------------------------------------------------------------------------------------------
// Statements

const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

interface CaseFact {
  id: string;
  procedure_id: string;
  definition_version: number;
  region_code: string;
  created_at: Date;
}

interface EventFact {
  case_id: string;
  seq: number;
  type: string;
  payload: Record<string, unknown>;
  to_state: unknown;
  occurred_at: Date;
}

interface TaskFact {
  case_id: string;
  department: string;
  region_code: string;
  status: string;
  opened_at: Date;
  closed_at: Date | null;
  outcome: string | null;
  due_at: Date | null;
}

/** Cases of the region that could count in the month: opened by its end and not finished before it began. */
async function casesInScope(db: Db, regionCode: string, from: Date, until: Date): Promise<CaseFact[]> {
  return db('cases')
    .where('region_code', 'like', likePrefix(regionCode))
    .andWhere('created_at', '<=', until)
    .andWhere((w) => w.whereNull('closed_at').orWhere('closed_at', '>=', from))
    .select('id', 'procedure_id', 'definition_version', 'region_code', 'created_at');
}

/** Cases finished earlier that received a rating, 整改 or 回访 in the month (they happen after the decision). */
async function casesWithServiceEvents(db: Db, regionCode: string, from: Date, until: Date): Promise<CaseFact[]> {
  // The month's service events first (partial index case_events_service), then their cases by
  // primary key: `= any(array(…))` keeps the planner from walking all cases to merge-join.
  const ids = db('case_events')
    .whereIn('type', Object.values(SERVICE_EVENTS))
    .andWhere('occurred_at', '>=', from)
    .andWhere('occurred_at', '<=', until)
    .select('case_id'); // duplicates are harmless to = any(); distinct would sort by walking an index
  return db('cases')
    .whereRaw('id = any(array(?))', [ids])
    .andWhere('region_code', 'like', likePrefix(regionCode))
    .select('id', 'procedure_id', 'definition_version', 'region_code', 'created_at');
}

const CHUNK = 500;

async function eventsOf(db: Db, caseIds: string[], until: Date): Promise<EventFact[]> {
  const out: EventFact[] = [];
  for (let i = 0; i < caseIds.length; i += CHUNK) {
    out.push(
      ...(await db('case_events')
        .whereIn('case_id', caseIds.slice(i, i + CHUNK))
        .andWhere('occurred_at', '<=', until)
        .select('case_id', 'seq', 'type', 'payload', 'to_state', 'occurred_at')
        .orderBy([{ column: 'case_id' }, { column: 'seq' }])),
    );
  }
  return out;
}

async function tasksOf(db: Db, caseIds: string[], until: Date): Promise<TaskFact[]> {
  const out: TaskFact[] = [];
  for (let i = 0; i < caseIds.length; i += CHUNK) {
    out.push(
      ...(await db('tasks')
        .whereIn('case_id', caseIds.slice(i, i + CHUNK))
        .andWhere('opened_at', '<=', until)
        .select('case_id', 'department', 'region_code', 'status', 'opened_at', 'closed_at', 'outcome', 'due_at')),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Replaying a case

interface Leaf {
  meta: StateMeta;
  final: boolean;
}

/** The active atomic and final states of a persisted state value (the chart's own nodes, no actor). */
export function leavesOf(def: ProcedureDefinition, value: unknown): Leaf[] {
  const walk = (node: any, v: unknown): Leaf[] => {
    if (node.type === 'atomic' || node.type === 'final') return [{ meta: (node.meta ?? { stage: '' }) as StateMeta, final: node.type === 'final' }];
    if (node.type === 'parallel') return Object.entries(node.states).flatMap(([k, child]) => walk(child, (v as Record<string, unknown> | undefined)?.[k]));
    if (v === undefined || v === null) return [];
    const key = typeof v === 'string' ? v : Object.keys(v as object)[0];
    const child = node.states?.[key];
    if (!child) return [];
    return walk(child, typeof v === 'string' ? undefined : (v as Record<string, unknown>)[key]);
  };
  return walk(def.machine.root, value);
}

/** The top-level state is final: the case is finished. */
function isFinished(def: ProcedureDefinition, value: unknown): boolean {
  const key = typeof value === 'string' ? value : Object.keys((value as object) ?? {})[0];
  return (def.machine.root as any).states?.[key]?.type === 'final';
}

const paymentOnly = (l: Leaf) => !!l.meta.task && l.meta.task.actions.every((a) => PAYMENT_ONLY_EVENTS.includes(a));

interface CaseReplay {
  fact: CaseFact;
  def: ProcedureDefinition;
  openedAt: Date;
  /** When the case was decided (办结): a final state, or only monthly payments left. */
  decidedAt: Date | null;
  /** Clock-stopped intervals; `to` null while still stopped at the report's instant. */
  pauses: Array<{ from: Date; to: Date | null }>;
  events: EventFact[];
}

function replay(fact: CaseFact, def: ProcedureDefinition, events: EventFact[]): CaseReplay {
  let decidedAt: Date | null = null;
  const pauses: CaseReplay['pauses'] = [];
  for (const e of events) {
    const leaves = leavesOf(def, e.to_state);
    const paused = leaves.some((l) => l.meta.clockStopped && !l.final);
    const open = pauses.at(-1);
    if (paused && (!open || open.to)) pauses.push({ from: e.occurred_at, to: null });
    if (!paused && open && !open.to) open.to = e.occurred_at;
    if (!decidedAt) {
      // Leaves with work: a branch waiting without a task (a 转办 not asked for) holds nothing up.
      const working = leaves.filter((l) => !l.final && l.meta.task);
      if (isFinished(def, e.to_state) || (working.length > 0 && working.every(paymentOnly))) decidedAt = e.occurred_at;
    }
  }
  return { fact, def, openedAt: events[0]?.occurred_at ?? fact.created_at, decidedAt, pauses, events };
}

/**
 * Time the case's clock ran from opening to `end`, in the limit's unit (working days for WD
 * limits, calendar days for CD), without the clock-stopped intervals — and whether that is
 * within the statutory limit.
 */
function clockAt(calendar: WorkCalendar, r: CaseReplay, end: Date) {
  const limit = r.def.totalTimeLimit;
  const working = calendar.workingDaysBetween(r.openedAt, end);
  let pausedWorking = 0;
  for (const p of r.pauses) {
    if (p.from >= end) continue;
    const to = p.to && p.to < end ? p.to : end;
    pausedWorking += calendar.workingDaysBetween(p.from, to);
  }
  const handlingWorkingDays = working - pausedWorking;
  if (limit.unit === 'WD') return { handlingWorkingDays, withinLimit: handlingWorkingDays <= limit.days };
  // Calendar-day limits: the engine's own due date (民法典 art. 201/203), moved by each pause.
  const closed: { from: Date; to: Date }[] = [];
  for (const p of r.pauses) {
    if (p.from >= end) continue;
    if (!p.to || p.to > end) return { handlingWorkingDays, withinLimit: p.from <= calendar.periodEnd(r.openedAt, limit, closed) };
    closed.push({ from: p.from, to: p.to });
  }
  return { handlingWorkingDays, withinLimit: end <= calendar.periodEnd(r.openedAt, limit, closed) };
}

// ---------------------------------------------------------------------------------------------
// Aggregation

const rate = (num: number, den: number) => (den === 0 ? null : Math.round((num / den) * 10000) / 10000);
const round1 = (n: number) => Math.round(n * 10) / 10;

/** p90 by the nearest-rank method: the smallest value with at least 90 % of the values at or below it. */
export function p90(values: number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.9 * sorted.length) - 1];
}

class Acc {
  received = 0;
  accepted = 0;
  notAccepted = 0;
  completed = 0;
  completedOnTime = 0;
  open = 0;
  overdue = 0;
  handling: number[] = [];
  supplemented = 0;
  /** Denominator of the 补正 rate: cases received (procedures) or steps completed (departments). */
  supplementBase = 0;
  ratings: Record<RatingLevel, number> = { verySatisfied: 0, satisfied: 0, basicallySatisfied: 0, dissatisfied: 0, veryDissatisfied: 0 };
  rectificationsDone = 0;
  rectificationsOnTime = 0;
  followUpsDone = 0;
  followUpsReached = 0;
  /** Denominator of the 回访 rate: cases decided in the month. */
  followUpBase = 0;

  row(service: { ratings: boolean; rectification: boolean; followUp: boolean }): ReportRow {
    const total = RATING_LEVELS.reduce((n, l) => n + this.ratings[l], 0);
    const good = GOOD.reduce((n, l) => n + this.ratings[l], 0);
    return {
      received: this.received,
      accepted: this.accepted,
      notAccepted: this.notAccepted,
      completed: this.completed,
      completedOnTime: this.completedOnTime,
      onTimeRate: rate(this.completedOnTime, this.completed),
      open: this.open,
      overdue: this.overdue,
      avgHandlingWorkingDays: this.handling.length ? round1(this.handling.reduce((a, b) => a + b, 0) / this.handling.length) : null,
      p90HandlingWorkingDays: p90(this.handling),
      supplemented: this.supplemented,
      supplementRate: rate(this.supplemented, this.supplementBase),
      ratings: service.ratings ? { ...this.ratings, total } : null,
      satisfactionRate: service.ratings ? rate(good, total) : null,
      rectificationsDone: service.rectification ? this.rectificationsDone : null,
      rectificationsOnTime: service.rectification ? this.rectificationsOnTime : null,
      followUpsDone: service.followUp ? this.followUpsDone : null,
      followUpsReached: service.followUp ? this.followUpsReached : null,
      followUpRate: service.followUp ? rate(this.followUpsDone, this.followUpBase) : null,
    };
  }
}

/** The instants that bound a China-time month: its first and last millisecond. */
export function monthBounds(month: string): { from: Date; until: Date } {
  const [y, m] = month.split('-').map(Number);
  const from = new Date(Date.UTC(y, m - 1, 1) - 8 * 3_600_000);
  const next = new Date(Date.UTC(m === 12 ? y + 1 : y, m === 12 ? 0 : m, 1) - 8 * 3_600_000);
  return { from, until: new Date(next.getTime() - 1) };
}

export async function monthlyReport(ctx: ReadContext, db: Db, actor: Actor, q: MonthlyReportQuery) {
  if (!actor.roles.includes('supervisor') && !actor.roles.includes('admin')) {
    throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅督办人员、管理员可查看月报告');
  }
  if (!MONTH_PATTERN.test(q.month)) {
    throw new DomainError('invalid', 'VALIDATION_FAILED', '月份格式应为 YYYY-MM', [{ path: 'querystring.month', message: '月份格式应为 YYYY-MM' }]);
  }
  const regionCode = q.regionCode ?? actor.regionCode;
  if (!coversRegion(actor, regionCode)) throw new DomainError('forbidden', 'NOT_PERMITTED', '只能查看本辖区及下级地区的月报告');
  const region = await getRegion(db, regionCode);
  if (!region) throw new DomainError('not_found', 'NOT_FOUND', '未找到该地区');

  const now = ctx.clock();
  const { from, until: monthEnd } = monthBounds(q.month);
  if (from > now) {
    throw new DomainError('invalid', 'REPORT_MONTH_IN_FUTURE', `${q.month} 尚未开始，不能生成月报告`, [{ path: 'querystring.month', message: '不能选择未来的月份' }]);
  }
  // The report's instant: the month's last millisecond, or now while the month runs.
  const asOf = now < monthEnd ? now : monthEnd;
  const inMonth = (at: Date | null) => !!at && at >= from && at <= asOf;

  const scoped = new Map<string, CaseFact>();
  for (const c of await casesInScope(db, regionCode, from, asOf)) scoped.set(c.id, c);
  for (const c of await casesWithServiceEvents(db, regionCode, from, asOf)) scoped.set(c.id, c);
  const ids = [...scoped.keys()];
  const events = await eventsOf(db, ids, asOf);
  const tasks = await tasksOf(db, ids, asOf);

  const calendars = new Map<string, WorkCalendar>();
  const calendarOf = async (code: string) => calendars.get(code) ?? calendars.set(code, await ctx.calendars.forRegion(db, code)).get(code)!;

  const eventsByCase = new Map<string, EventFact[]>();
  for (const e of events) (eventsByCase.get(e.case_id) ?? eventsByCase.set(e.case_id, []).get(e.case_id)!).push(e);
  const tasksByCase = new Map<string, TaskFact[]>();
  for (const t of tasks) (tasksByCase.get(t.case_id) ?? tasksByCase.set(t.case_id, []).get(t.case_id)!).push(t);

  const service = { ratings: false, rectification: false, followUp: false };
  const byProcedure = new Map<string, Acc>(ctx.registry.list().map((d) => [d.id, new Acc()]));
  const byDepartment = new Map<string, Acc>();
  const departmentAcc = (d: string) => byDepartment.get(d) ?? byDepartment.set(d, new Acc()).get(d)!;
  const total = new Acc();

  for (const fact of scoped.values()) {
    const def = ctx.registry.pinned(fact.procedure_id, fact.definition_version);
    const r = replay(fact, def, eventsByCase.get(fact.id) ?? []);
    const calendar = await calendarOf(fact.region_code);
    const caseTasks = tasksByCase.get(fact.id) ?? [];
    const departments = new Set(caseTasks.map((t) => t.department));
    const accs = [byProcedure.get(fact.procedure_id) ?? byProcedure.set(fact.procedure_id, new Acc()).get(fact.procedure_id)!, total];
    const decidedInMonth = inMonth(r.decidedAt);

    for (const a of accs) {
      if (inMonth(r.openedAt)) {
        a.received++;
        a.supplementBase++;
        if (r.events.some((e) => isSupplementRequest(e.type))) a.supplemented++;
      }
      for (const e of r.events) {
        if (!inMonth(e.occurred_at)) continue;
        if (ACCEPT_EVENTS.includes(e.type)) a.accepted++;
        if (NOT_ACCEPTED_EVENTS.includes(e.type)) a.notAccepted++;
      }
    }
    if (decidedInMonth) {
      const { handlingWorkingDays, withinLimit } = clockAt(calendar, r, r.decidedAt!);
      for (const a of accs) {
        a.completed++;
        a.followUpBase++;
        if (withinLimit) a.completedOnTime++;
        a.handling.push(handlingWorkingDays);
      }
      for (const d of departments) departmentAcc(d).followUpBase++;
    } else if (!r.decidedAt && r.openedAt <= asOf) {
      const overdue = !clockAt(calendar, r, asOf).withinLimit;
      for (const a of accs) {
        a.open++;
        if (overdue) a.overdue++;
      }
    }

    // Ratings and 回访 count for the case's procedure and for every department that worked on it.
    for (const e of r.events) {
      if (!inMonth(e.occurred_at)) continue;
      const worked = [...new Set(caseTasks.filter((t) => t.opened_at <= e.occurred_at).map((t) => t.department))].map(departmentAcc);
      if (e.type === SERVICE_EVENTS.rated) {
        service.ratings = true;
        const level = e.payload?.level as RatingLevel;
        if (RATING_LEVELS.includes(level)) for (const a of [...accs, ...worked]) a.ratings[level]++;
      }
      if (e.type === SERVICE_EVENTS.followedUp) {
        service.followUp = true;
        for (const a of [...accs, ...worked]) {
          a.followUpsDone++;
          if (e.payload?.reached === true) a.followUpsReached++;
        }
      }
      if (e.type === SERVICE_EVENTS.rectified) service.rectification = true;
    }

    // Department figures: the tasks (steps) of each department.
    for (const t of caseTasks) {
      const a = departmentAcc(t.department);
      const closed = t.closed_at && t.closed_at <= asOf ? t.closed_at : null;
      const completed = closed && t.status === 'completed' && inMonth(closed);
      if (inMonth(t.opened_at)) a.received++;
      if (completed) {
        a.completed++;
        a.supplementBase++;
        if (t.outcome && ACCEPT_EVENTS.includes(t.outcome)) a.accepted++;
        if (t.outcome && NOT_ACCEPTED_EVENTS.includes(t.outcome)) a.notAccepted++;
        if (t.outcome && isSupplementRequest(t.outcome)) a.supplemented++;
        if (t.due_at && closed <= t.due_at) a.completedOnTime++;
        a.handling.push((await calendarOf(t.region_code)).workingDaysBetween(t.opened_at, closed));
        if (t.outcome === SERVICE_EVENTS.rectified) {
          for (const x of [a, ...accs]) {
            x.rectificationsDone++;
            if (t.due_at && closed <= t.due_at) x.rectificationsOnTime++;
          }
        }
      }
      if (!closed) {
        a.open++;
        if (t.due_at && t.due_at < asOf) a.overdue++;
      }
    }
  }

  const order = Object.keys(DEPARTMENTS);
  const departments = [...byDepartment]
    .filter(([, a]) => a.received || a.completed || a.open || a.followUpsDone || RATING_LEVELS.some((l) => a.ratings[l]))
    .sort(([a], [b]) => (order.indexOf(a) + 1 || 999) - (order.indexOf(b) + 1 || 999) || a.localeCompare(b));

  return {
    month: q.month,
    regionCode,
    regionName: region.name,
    from: from.toISOString(),
    until: monthEnd.toISOString(),
    asOf: asOf.toISOString(),
    final: asOf.getTime() === monthEnd.getTime(),
    procedures: [...byProcedure].map(([procedureId, a]) => ({ procedureId, procedureName: ctx.registry.latest(procedureId).name, ...a.row(service) })),
    departments: departments.map(([department, a]) => ({ department, departmentName: departmentName(department), ...a.row(service) })),
    totals: total.row(service),
    // 主动发现 (docs/leads.md): additive block.
    leads: await leadMonthCounts(db, regionCode, from, asOf),
  };
}

export type MonthlyReport = Awaited<ReturnType<typeof monthlyReport>>;
