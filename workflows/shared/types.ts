import type { AnyStateMachine } from 'xstate';
import type { z } from 'zod';

/** Roles a user may hold. Tasks name the role that works them. */
export const ROLES = ['clerk', 'reviewer', 'supervisor', 'admin'] as const;
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
}

export interface EventSpec {
  /** zod schema of the event's `data`. */
  schema: z.ZodType;
  /** Label shown to clerks and reviewers (zh-CN). */
  label: string;
  /** Who may send this event when no open task carries it (e.g. withdrawal at the window). */
  sentBy?: { roles: Role[] };
  /** Message (zh-CN) when the chart's rules refuse the event although the state knows it. */
  refusedMessage?: string;
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
  departments: Record<string, string>;
  materials: Material[];
  totalTimeLimit: TimeLimit;
  applicationSchema: z.ZodType<Application>;
  events: Record<string, EventSpec>;
  /** Builds the chart's input from the application and the region's settings at creation time. */
  createInput(args: { application: Application; regionSettings: Record<string, unknown> }): unknown;
}

/** The event shape every chart receives: the engine wraps validated data under `data`. */
export interface CaseEvent {
  type: string;
  data: Record<string, unknown>;
}
