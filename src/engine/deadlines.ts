import type { EscalationPolicy, ProcedureDefinition, TaskMeta, TimeLimit } from '../../workflows/index.ts';
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
}

/** A task's due date, when it turns yellow (share of its time used) and when red (N WD overdue). */
export function planTaskDeadline(calendar: WorkCalendar, openedAt: Date, task: TaskMeta, def: ProcedureDefinition): TaskDeadline {
  const policy = { ...DEFAULT_ESCALATION, ...def.escalation, ...task.escalation };
  try {
    const due = calendar.due(openedAt, task.timeLimit);
    const warn = new Date(openedAt.getTime() + policy.warnRatio * (due.getTime() - openedAt.getTime()));
    const red = calendar.addWorkingDays(due, policy.redAfterWorkingDays);
    return { due_at: due, warn_at: warn, red_at: red, deadline_note: null };
  } catch (e) {
    // No silent guess: the task carries no due date and says why; supervisors see the note.
    if (e instanceof CalendarYearMissingError) return { due_at: null, warn_at: null, red_at: null, deadline_note: e.code + ':' + e.year };
    throw e;
  }
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

/** Due instant of a limit, or null with the reason when the calendar cannot say. */
export function dueOrNote(calendar: WorkCalendar, from: Date, limit: Pick<TimeLimit, 'days' | 'unit'>): { due: Date | null; note: string | null } {
  try {
    return { due: calendar.due(from, limit), note: null };
  } catch (e) {
    if (e instanceof CalendarYearMissingError) return { due: null, note: `${e.code}:${e.year}` };
    throw e;
  }
}
