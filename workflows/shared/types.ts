import type { AnyStateMachine } from 'xstate';
import type { z } from 'zod';

/** Roles a user may hold. Tasks name the role that works them. */
export const ROLES = ['clerk', 'reviewer', 'supervisor', 'admin', 'gridWorker'] as const;
export type Role = (typeof ROLES)[number];

/** A statutory or local time limit, as data. Firing deadlines is the engine's job, not the chart's. */
export interface TimeLimit {
  days: number;
  /** WD = working days on the holiday calendar; CD = calendar days (民法典 art. 201/203). */
  unit: 'WD' | 'CD';
  /** Legal source, or "local" where only local practice sets it. */
  source: string;
}

/** `meta.task` on a state: entering the state opens this task, leaving it closes the task. */
export interface TaskMeta {
  title: string;
  department: string;
  role: Role;
  /** Events a holder of this task may send; each must have a schema in the procedure's `events`. */
  actions: string[];
  timeLimit: TimeLimit;
  /** Event the deadline engine sends when the task goes overdue (e.g. deemed withdrawal). */
  overdueEvent?: string;
  /** Overrides the procedure's escalation thresholds for this step. */
  escalation?: Partial<EscalationPolicy>;
}

/** When a task turns yellow (warning), overdue (黄牌) and red (红牌, 督办). */
export interface EscalationPolicy {
  /** Share of the step's time after which it is warned, e.g. 0.8. */
  warnRatio: number;
  /** Working days after the due date at which an unfinished task turns red. */
  redAfterWorkingDays: number;
}

/** A chart's own timed transition: `event` is sent (by the system) this long after entering the state. */
export interface StateTimer extends TimeLimit {
  event: string;
}

/** `meta` on every state node of a procedure chart. */
export interface StateMeta {
  /** What a citizen reads for this stage (zh-CN). */
  stage: string;
  task?: TaskMeta;
  /** The step clock does not run here (补正, excluded 公示, …) — used by the deadline engine. */
  clockStopped?: boolean;
  /** Internal routing states a citizen need not see. */
  hiddenFromCitizen?: boolean;
  timer?: StateTimer;
}

/**
 * The declared sender of an event no live task carries. A person sender is a role in a
 * department — `'accepting'` meaning one of the procedure's `acceptingDepartments` (the window
 * that took the application) — whose region covers the case's region. `system` is the deadline
 * engine alone, never a person.
 */
export type EventSender = { system: true } | { role: Role; department: 'accepting' | (string & {}) };

export interface EventSpec {
  /** zod schema of the event's `data`. */
  schema: z.ZodType;
  /** Label shown to clerks and reviewers (zh-CN). */
  label: string;
  /**
   * Who may send this event where no open task carries it. An event a live task carries is sent
   * by that task's holder (its department, role and region); every other event a state accepts
   * must declare its sender here, or model checking fails.
   */
  sentBy?: EventSender;
  /** Message (zh-CN) when the chart's rules refuse the event although the state knows it. */
  refusedMessage?: string;
  /**
   * Valid example data — one or more variants, possibly depending on the chart context. Model
   * checking explores every variant; model-based tests send them. Omitted means `{}`.
   */
  examples?: Array<Record<string, unknown>> | ((context: any) => Array<Record<string, unknown>>);
}

/** A way a case can start (application and region settings) that model checking explores. */
export interface ModelVariant {
  name: string;
  application: unknown;
  regionSettings: Record<string, unknown>;
  /** Applicant age on the day the case opens, for rules that depend on it (e.g. minors). */
  applicantAge?: number;
}

export interface Material {
  code: string;
  name: string;
  required: boolean;
}

export interface ProcedureDefinition<Application = unknown> {
  id: string;
  version: number;
  /** Short code used in reference numbers. */
  code: string;
  name: string;
  legalBasis: string[];
  machine: AnyStateMachine;
  /** Department ids (see shared/departments.ts) that hold tasks in this procedure. */
  departments: string[];
  materials: Material[];
  totalTimeLimit: TimeLimit;
  /** Escalation thresholds for every task unless a task overrides them. */
  escalation?: EscalationPolicy;
  applicationSchema: z.ZodType<Application>;
  events: Record<string, EventSpec>;
  /** Departments whose clerks may open cases of this procedure. */
  acceptingDepartments: string[];
  /** Builds the chart's input from the application and the region's settings at creation time. */
  createInput(args: { application: Application; regionSettings: Record<string, unknown>; applicantAge: number }): unknown;
  /**
   * The part of the chart context that decides which transitions are possible, for model
   * checking: states with equal value and equal key are one vertex. Omitted: the value alone.
   */
  modelKey?: (context: any) => unknown;
  /** Starting points model checking and model-based tests cover. */
  variants: ModelVariant[];
}

/** The event shape every chart receives: the engine wraps validated data under `data`. */
export interface CaseEvent {
  type: string;
  data: Record<string, unknown>;
}
