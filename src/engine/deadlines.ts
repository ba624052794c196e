import type { EscalationPolicy, ProcedureDefinition, TaskMeta, TimeLimit } from '../../workflows/index.ts';
import { randomUUID } from 'node:crypto';
import type { TaskRow } from '../db/tasks.ts';
import type { NewTimer } from '../db/timers.ts';
import { CalendarYearMissingError, type WorkCalendar } from './calendar.ts';

/**
 * Deadline planning: due dates, escalation instants and the timer rows that fire them.
 * Pure functions over a calendar; the engine writes their results in the transition's transaction.
 */
export const DEFAULT_ESCALATION: EscalationPolicy = { warnRatio: 0.8, redAfterWorkingDays: 3 };

/** Event types the engine logs (and offers to the chart) when a task's escalation level rises. */
export const ESCALATION_EVENTS = { warn: 'DEADLINE_WARNING', overdue: 'DEADLINE_OVERDUE', red: 'DEADLINE_RED' } as const;
export const ESCALATION_LABELS: Record<string, string> = {
  DEADLINE_WARNING: '时限预警（黄灯）',
  DEADLINE_OVERDUE: '已超期（黄牌）',
  DEADLINE_RED: '超期仍未办结（红牌督办）',
};
export const ESCALATION_LEVEL = { warn: 'warned', overdue: 'overdue', red: 'red' } as const;
const RANK: Record<string, number> = { none: 0, warned: 1, overdue: 2, red: 3 };
export const isHigherLevel = (next: string, current: string): boolean => RANK[next] > RANK[current];

export interface TaskDeadline {
  due_at: Date | null;
  warn_at: Date | null;
  red_at: Date | null;
  deadline_note: string | null;
  /** The due date went through a day of a provisional (not yet announced) year. */
  deadline_provisional: boolean;
}

/** A task's due date, when it turns yellow (share of its time used) and when red (N WD overdue). */
export function planTaskDeadline(calendar: WorkCalendar, openedAt: Date, task: TaskMeta, def: ProcedureDefinition): TaskDeadline {
  const policy = { ...DEFAULT_ESCALATION, ...def.escalation, ...task.escalation };
  try {
    const { value: due, provisional } = calendar.trace(() => calendar.due(openedAt, task.timeLimit));
    const warn = new Date(openedAt.getTime() + policy.warnRatio * (due.getTime() - openedAt.getTime()));
    // The red date may run into a provisional year while the due date does not: the recompute after
    // a load finds it by its date (calendarRecompute.ts), the mark is about the date people read.
    const red = calendar.addWorkingDays(due, policy.redAfterWorkingDays);
    return { due_at: due, warn_at: warn, red_at: red, deadline_note: null, deadline_provisional: provisional };
  } catch (e) {
    // Outside the provisional range: the task carries no due date and says why; supervisors see the note.
    if (e instanceof CalendarYearMissingError) return { due_at: null, warn_at: null, red_at: null, deadline_note: e.code + ':' + e.year, deadline_provisional: false };
    throw e;
  }
}

/**
 * A task row as it opens now: its holder, actions and time limit from `meta` (a chart state's
 * task, or one of the tasks that come from no state — 好差评 整改 / 回访, 发放失败更正), its due,
 * warning and red dates on the region's calendar. The caller inserts it with its escalation timers.
 */
export function openingTask(def: ProcedureDefinition, caseRow: { id: string; region_code: string }, stateId: string, meta: TaskMeta, calendar: WorkCalendar, now: Date, title = meta.title): TaskRow {
  return {
    id: randomUUID(),
    case_id: caseRow.id,
    procedure_id: def.id,
    region_code: caseRow.region_code,
    state_id: stateId,
    title,
    department: meta.department,
    role: meta.role,
    actions: meta.actions,
    time_limit: meta.timeLimit,
    status: 'open',
    assignee_id: null,
    opened_at: now,
    closed_at: null,
    closed_by: null,
    outcome: null,
    escalation: 'none',
    escalated_at: null,
    ...planTaskDeadline(calendar, now, meta, def),
  };
}

export function escalationTimers(
  task: { id: string; case_id: string; state_id: string } & TaskDeadline,
  meta: TaskMeta,
  now: Date,
): NewTimer[] {
  if (!task.due_at) return [];
  const base = { case_id: task.case_id, task_id: task.id, state_id: task.state_id, created_at: now };
  return [
    { ...base, kind: 'warn', event_type: ESCALATION_EVENTS.warn, due_at: task.warn_at! },
    { ...base, kind: 'overdue', event_type: meta.overdueEvent ?? ESCALATION_EVENTS.overdue, due_at: task.due_at },
    { ...base, kind: 'red', event_type: ESCALATION_EVENTS.red, due_at: task.red_at! },
  ];
}

/** Due instant of a limit (provisional when it went through an unannounced year), or null with the reason when the calendar cannot say. */
export function dueOrNote(calendar: WorkCalendar, from: Date, limit: Pick<TimeLimit, 'days' | 'unit'>): { due: Date | null; note: string | null; provisional: boolean } {
  try {
    const { value, provisional } = calendar.trace(() => calendar.due(from, limit));
    return { due: value, note: null, provisional };
  } catch (e) {
    if (e instanceof CalendarYearMissingError) return { due: null, note: `${e.code}:${e.year}`, provisional: false };
    throw e;
  }
}
