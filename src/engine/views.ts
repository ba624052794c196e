import { departmentName, type ProcedureDefinition, type Role, type TimeLimit } from '../../workflows/index.ts';
import type * as cases from '../db/cases.ts';
import * as tasks from '../db/tasks.ts';
import type { WorkCalendar } from './calendar.ts';
import { chinaDay } from './calendar.ts';
import { ESCALATION_LABELS } from './deadlines.ts';
import { maskName } from './masking.ts';
import { allowedEvents, taskActions, type Actor } from './authorization.ts';
import { ASSIGNMENT_EVENTS, DEADLINES_RECOMPUTED, MIGRATION_EVENT, NOTE_LABELS } from './caseNotes.ts';
import { SERVICE_EVENT_LABELS, isServiceOutcome, serviceSchemaId } from './serviceEvents.ts';

// How cases and tasks are presented to staff and citizens: pure functions over stored rows.

/** Component name of an event's data schema in the OpenAPI document, e.g. SocialAssistance_ACCEPT. */
export const procedureSchemaPrefix = (procedureId: string) =>
  procedureId.replace(/(^|-)([a-z0-9])/g, (_, _dash, c: string) => c.toUpperCase());
export const eventSchemaId = (procedureId: string, type: string) => `${procedureSchemaPrefix(procedureId)}_${type}`;

/**
 * An action a client can offer: the event type, its label, and where its `data` schema is in
 * the OpenAPI document, so a UI can build the form and a generated client knows the type.
 */
export function actionView(def: ProcedureDefinition, type: string) {
  // 整改 / 回访 outcomes are shared by every procedure (serviceEvents.ts).
  if (isServiceOutcome(type)) return { type, label: SERVICE_EVENT_LABELS[type], dataSchema: `#/components/schemas/${serviceSchemaId(type)}` };
  return { type, label: def.events[type]?.label ?? type, dataSchema: `#/components/schemas/${eventSchemaId(def.id, type)}` };
}

export function eventLabel(def: ProcedureDefinition, type: string): string {
  if (type === 'CASE_OPENED') return '申请已登记';
  if (type === DEADLINES_RECOMPUTED || type === MIGRATION_EVENT) return NOTE_LABELS[type];
  return def.events[type]?.label ?? ESCALATION_LABELS[type] ?? (ASSIGNMENT_EVENTS as Record<string, string>)[type] ?? (SERVICE_EVENT_LABELS as Record<string, string>)[type] ?? type;
}

export function citizenDecision(decision: any) {
  if (!decision) return null;
  return decision.approved
    ? { approved: true, monthlyAmountFen: decision.monthlyAmountFen, startMonth: decision.startMonth }
    : { approved: false, reason: decision.reason, remedy: decision.remedy };
}

/** Working days left until a due date, or null when the calendar cannot say. */
export type Remaining = (due: Date | null) => number | null;

export function remainingFn(calendar: WorkCalendar, now: Date): Remaining {
  // The answer depends on the China-time day of `due` only (workingDaysBetween walks days), and a
  // page of tasks shares few due days: each is walked once per page, not once per task.
  const byDay = new Map<string, number | null>();
  return (due) => {
    if (!due) return null;
    const day = chinaDay(due);
    let n = byDay.get(day);
    if (n === undefined) {
      try {
        n = calendar.remainingWorkingDays(now, due);
      } catch {
        n = null;
      }
      byDay.set(day, n);
    }
    return n;
  };
}

export function taskView(def: ProcedureDefinition, t: tasks.TaskRow, remaining: Remaining = () => null) {
  return {
    id: t.id,
    caseId: t.case_id,
    procedureId: t.procedure_id,
    title: t.title,
    department: t.department,
    regionCode: t.region_code,
    stateId: t.state_id,
    departmentName: departmentName(t.department),
    role: t.role as Role,
    status: t.status,
    actions: t.actions.map((type) => actionView(def, type)),
    timeLimit: t.time_limit as TimeLimit | null,
    assigneeId: t.assignee_id,
    openedAt: t.opened_at.toISOString(),
    closedAt: t.closed_at ? t.closed_at.toISOString() : null,
    outcome: t.outcome,
    dueAt: t.due_at ? t.due_at.toISOString() : null,
    remainingWorkingDays: tasks.LIVE_STATUSES.includes(t.status) ? remaining(t.due_at) : null,
    escalation: t.escalation,
    deadlineNote: t.deadline_note,
    deadlineProvisional: Boolean(t.due_at && t.deadline_provisional),
    deadlineText: tasks.LIVE_STATUSES.includes(t.status) ? deadlineText(t.due_at, t.deadline_note, t.deadline_provisional) : null,
  };
}

/** A task as this actor sees it: `actions` lists only what they may do with it now. */
export function taskViewFor(actor: Actor, def: ProcedureDefinition, t: tasks.TaskRow, remaining?: Remaining) {
  return taskView(def, { ...t, actions: taskActions(actor, def, t) }, remaining);
}

/** Event types with their labels, as views list them. */
export function actionsFor(def: ProcedureDefinition, types: string[]) {
  return types.map((type) => ({ type, label: def.events[type]?.label ?? (SERVICE_EVENT_LABELS as Record<string, string>)[type] ?? type }));
}

/**
 * 好差评 整改 and 回访 tasks (commands/service.ts): they come from no chart state, so the chart's
 * reconciliation leaves them alone and the chart's events never list their actions.
 */
export const isServiceTask = (t: { state_id: string }) => t.state_id.startsWith('service.');

/** What the actor may do on the case now: the chart's events they hold, and their service tasks' actions. */
export function caseActions(actor: Actor, def: ProcedureDefinition, regionCode: string, known: string[], live: tasks.TaskRow[]) {
  const service = live.filter(isServiceTask).flatMap((t) => taskActions(actor, def, t));
  return actionsFor(def, [...new Set([...allowedEvents(actor, def, regionCode, known, live), ...service])]);
}

/** 2026年3月16日: a China-time date as people write it. */
export function chineseDate(at: Date): string {
  const [y, m, d] = chinaDay(at).split('-').map(Number);
  return `${y}年${m}月${d}日`;
}

/** Said after every provisional date: the State Council's notice decides. */
export const PROVISIONAL_CAVEAT = '以国务院公布的节假日安排为准';

/**
 * What a person reads about a due date — never the machine note. A date computed through a year
 * whose holiday notice is not out yet is provisional and says so ("预计 2027年1月8日前（以国务院公布
 * 的节假日安排为准）"); a limit beyond the provisional range (`CALENDAR_YEAR_MISSING:2101`) has none.
 */
export function deadlineText(dueAt: Date | null, note: string | null, provisional = false): string | null {
  const missing = note ? /^CALENDAR_YEAR_MISSING:(\d{4})$/.exec(note) : null;
  if (missing) return `预计完成日期待定（${missing[1]}年节假日安排尚未公布）`;
  if (note) return '预计完成日期待定';
  if (!dueAt) return null;
  return provisional ? `预计 ${chineseDate(dueAt)}前（${PROVISIONAL_CAVEAT}）` : `${chineseDate(dueAt)}前`;
}

const stagesByState = new WeakMap<ProcedureDefinition, Map<string, string>>();

/** The stage text of a chart state (what the case is doing while the task is open), '' if unknown. */
export function stateStage(def: ProcedureDefinition, stateId: string): string {
  let stages = stagesByState.get(def);
  if (!stages) {
    const found = new Map<string, string>();
    const walk = (node: any) => {
      found.set(node.id as string, (node.meta?.stage as string | undefined) ?? '');
      for (const child of Object.values(node.states ?? {})) walk(child);
    };
    walk((def.machine as any).root);
    stagesByState.set(def, (stages = found));
  }
  return stages.get(stateId) ?? '';
}

export function inboxItem(def: ProcedureDefinition, r: tasks.InboxRow, remaining: Remaining) {
  return {
    ...taskView(def, r, remaining),
    reference: r.reference,
    applicantName: maskName(r.applicant_name),
    caseVersion: r.case_version,
    procedureName: def.name,
    stage: stateStage(def, r.state_id),
    assigneeName: r.assignee_name ?? null,
  };
}

export function caseDeadline(row: cases.CaseRow, remaining: Remaining) {
  return {
    dueAt: row.due_at ? row.due_at.toISOString() : null,
    clockPaused: row.clock_paused_at !== null,
    // While paused, the remaining time is frozen at what was left when the clock stopped.
    remainingWorkingDays: row.status === 'done' ? null : remaining(row.due_at),
    note: row.deadline_note,
    provisional: Boolean(row.due_at && row.deadline_provisional),
    text: row.status === 'done' ? null : deadlineText(row.due_at, row.deadline_note, row.deadline_provisional),
  };
}

