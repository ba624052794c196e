import { z } from 'zod';
import { ROLES, type ProcedureDefinition } from '../../workflows/index.ts';
import { actionView } from '../engine/views.ts';
import { errorSchema } from './errors.ts';
import { documentAs, withCodes } from './contract/documented.ts';
import { documentedErrorSchema, statusOf, type ErrorCode } from './contract/errorCodes.ts';

// Response shapes, shared by routes and the OpenAPI description. Each `.meta({ id })` becomes a
// named component (#/components/schemas/<id>) that operations reference.

/** Error responses for these statuses; the codes they carry are the generic ones of each status. */
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, errorSchema]));

/**
 * Error responses for the codes a route can answer besides the generic ones (auth, body, 503…,
 * added to every operation by src/http/openapi.ts): the statuses follow from the codes, and the
 * operation's `x-error-codes` lists them.
 */
export function refusals(...codes: ErrorCode[]): Record<number, typeof errorSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(statusOf(code)!, [...(byStatus.get(statusOf(code)!) ?? []), code]);
  // One wire schema per status, remembered with its codes (the serializer is the same as errorSchema's).
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [status, documentAs(withCodes(errorSchema.clone() as typeof errorSchema, list), documentedErrorSchema)]),
  );
}

/**
 * An open map: the keys depend on the procedure, so the document says so explicitly instead of
 * showing an empty schema.
 */
export const openMap = (description: string) =>
  z.record(z.string(), z.unknown()).meta({ description, additionalProperties: true });

/** XState state value: a leaf name, or per region of a parallel/compound state its own value. */
export type StateValue = string | { [region: string]: StateValue };
export const stateValueSchema: z.ZodType<StateValue> = z
  .union([z.string(), z.record(z.string(), z.lazy(() => stateValueSchema))])
  .meta({ id: 'StateValue', description: 'XState state value: a state name, or an object mapping each active child region to its value' });

export const timeLimitSchema = z
  .object({ days: z.number().int(), unit: z.enum(['WD', 'CD']).describe('WD working days, CD calendar days'), source: z.string().describe('Legal source') })
  .meta({ id: 'TimeLimit' });

export const actionSchema = z
  .object({
    type: z.string().describe('Event type to send (outcome of a task)'),
    label: z.string().describe('zh-CN'),
    dataSchema: z.string().describe('JSON pointer of the data schema in this document, e.g. #/components/schemas/SocialAssistance_ACCEPT'),
  })
  .meta({ id: 'Action', description: 'Something the caller may do now' });

export const taskSchema = z
  .object({
    id: z.string(),
    caseId: z.string(),
    procedureId: z.string(),
    title: z.string(),
    stateId: z.string().describe('The chart state that opened the task'),
    department: z.string(),
    departmentName: z.string(),
    regionCode: z.string().describe('行政区划代码 of the case: the task is worked by its department in this region (or a covering one)'),
    role: z.enum(ROLES),
    status: z.enum(['open', 'claimed', 'completed', 'cancelled']),
    actions: z.array(actionSchema),
    timeLimit: timeLimitSchema.nullable(),
    assigneeId: z.string().nullable(),
    openedAt: z.string(),
    closedAt: z.string().nullable(),
    outcome: z.string().nullable(),
    dueAt: z.string().nullable().describe('End of the step limit on the statutory calendar'),
    remainingWorkingDays: z.number().int().nullable().describe('Negative once overdue'),
    escalation: z.enum(['none', 'warned', 'overdue', 'red']),
    deadlineNote: z.string().nullable().describe('Machine-readable reason there is no due date, e.g. CALENDAR_YEAR_MISSING:2101 (never show it to a person: show deadlineText)'),
    deadlineProvisional: z
      .boolean()
      .describe('dueAt was computed on a provisional calendar (a year whose holiday notice is not loaded yet): it may move when the notice is loaded'),
    deadlineText: z
      .string()
      .nullable()
      .describe('The due date as a person reads it (zh-CN), e.g. "2026年3月16日前", "预计 2027年1月8日前（以国务院公布的节假日安排为准）" (provisional); null once the task is closed'),
  })
  .meta({ id: 'Task' });

export const deadlineSchema = z
  .object({
    dueAt: z.string().nullable(),
    clockPaused: z.boolean().describe('The whole-case clock is stopped (补正, 公示, 冷静期…)'),
    remainingWorkingDays: z.number().int().nullable(),
    note: z.string().nullable().describe('Machine-readable reason there is no due date, e.g. CALENDAR_YEAR_MISSING:2101 (show `text` instead)'),
    provisional: z
      .boolean()
      .describe('dueAt was computed on a provisional calendar (a year whose holiday notice is not loaded yet): it may move when the notice is loaded'),
    text: z.string().nullable().describe('The expected completion date as a person reads it (zh-CN), e.g. "2026年4月10日前" or "预计 2027年1月8日前（以国务院公布的节假日安排为准）" (provisional); null once the case is finished'),
  })
  .meta({ id: 'Deadline', description: 'Whole-case deadline' });

export const inboxItemSchema = taskSchema
  .extend({
    reference: z.string(),
    applicantName: z.string().describe('Masked'),
    caseVersion: z.number().int().describe('Send as expectedVersion'),
    procedureName: z.string().describe("The procedure's zh-CN name"),
    stage: z.string().describe('zh-CN stage of the chart state that opened the task, e.g. 入户调查中'),
    assigneeName: z.string().nullable().describe('Display name of the claimant; null when unclaimed'),
  })
  .meta({ id: 'InboxItem' });

const COUNT_NOTE = 'Counts stop at countCap (10,000): below it exact; at it `exact` is false and it means "10,000+"';

const pageFields = {
  items: z.array(inboxItemSchema),
  total: z.number().int().describe(`Tasks matching the filters. ${COUNT_NOTE}`),
  totalExact: z.boolean().describe('false: total is the cap, the real number is at least that'),
  page: z.number().int().describe('The page asked for (ignored when a cursor is sent)'),
  pageSize: z.number().int(),
  sort: z.enum(['due', 'opened']),
  nextCursor: z.string().nullable().describe('Send as `cursor` for the next page (keyset pagination); null on the last page'),
};

export const countSchema = z
  .object({
    value: z.string().describe('The filter value to send'),
    label: z.string().describe('zh-CN'),
    count: z.number().int(),
    exact: z.boolean().describe('false: count is the cap (10,000) and the real number is at least that'),
  })
  .meta({ id: 'FilterCount' });

export const inboxPageSchema = z
  .object({
    ...pageFields,
    counts: z
      .object({
        status: z.array(countSchema),
        escalation: z.array(countSchema),
        procedure: z.array(countSchema),
        overdue: countSchema,
      })
      .describe('Tasks per value of each filter, applying every other filter sent but that one'),
    countCap: z.number().int(),
  })
  .meta({ id: 'InboxPage' });

export const supervisionTaskPageSchema = z
  .object({
    ...pageFields,
    items: z.array(
      inboxItemSchema.extend({
        level: z
          .enum(['dueSoon', 'overdue', 'red'])
          .nullable()
          .describe("The board's bucket of this task at asOf besides open (预警 due within 2 working days, 黄牌 overdue, 红牌 red), from its due dates; null: none of them"),
      }),
    ),
    bucket: z.enum(['open', 'dueSoon', 'overdue', 'red']),
    asOf: z.string().describe('The instant the buckets were computed at'),
    dueSoonUntil: z.string().describe('End of the 2nd working day from asOf: dueSoon tasks are due by then'),
  })
  .meta({ id: 'SupervisionTaskPage' });

const activeStateSchema = z.object({ stateId: z.string(), stage: z.string() }).meta({ id: 'ActiveState' });
const caseStatus = z.enum(['running', 'done']);
const factsSchema = openMap("Chart context: what the procedure decided on (keys depend on the procedure's chart)");

export const maskedApplicantSchema = z
  .object({
    name: z.string(),
    idNumber: z.string().describe('Masked, e.g. 110***********002X'),
    phone: z.string().describe('Masked, e.g. 138****8000'),
    address: z.string().optional(),
    bankCard: z.string().optional().describe('Masked'),
  })
  .meta({ id: 'MaskedApplicant' });

export const historyEntrySchema = z
  .object({
    seq: z.number().int(),
    type: z.string().describe('Event type (CASE_OPENED, an event of the procedure, or a deadline escalation)'),
    label: z.string(),
    actor: z.string().nullable(),
    at: z.string(),
    fromState: stateValueSchema.nullable(),
    toState: stateValueSchema,
    payload: openMap("The event's data as validated by its schema (see the procedure's <Procedure>_<TYPE> component), or the engine's note for CASE_OPENED and escalations"),
  })
  .meta({ id: 'HistoryEntry' });

export const caseViewSchema = z
  .object({
    id: z.string(),
    reference: z.string(),
    procedureId: z.string(),
    procedureName: z.string(),
    definitionVersion: z.number().int(),
    regionCode: z.string(),
    status: caseStatus,
    version: z.number().int().describe('Send as expectedVersion'),
    stage: z.string(),
    stateValue: stateValueSchema,
    activeStates: z.array(activeStateSchema),
    facts: factsSchema,
    applicant: maskedApplicantSchema,
    deadline: deadlineSchema,
    deadlineText: z.string().nullable().describe('= deadline.text: the expected completion date as a person reads it'),
    application: openMap("The application as validated by the procedure's <Procedure>_Application schema, with ID numbers, phones and bank cards masked"),
    openTasks: z.array(taskSchema),
    closedTasks: z.array(taskSchema),
    allowedEvents: z.array(actionSchema).describe('Events the caller may send now'),
    history: z.array(historyEntrySchema),
    payments: z.array(
      z
        .object({
          period: z.string(),
          amountFen: z.number().int(),
          at: z.string(),
          status: z.enum(['requested', 'sent', 'paid', 'failed', 'incident', 'abandoned']).describe('Delivery (发放, docs/payments.md): requested → sent → paid | failed (→ corrected and re-sent); incident: stopped retrying; abandoned: an admin resolved the incident'),
          statusLabel: z.string().describe('zh-CN'),
        })
        .meta({ id: 'Payment' }),
    ),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'CaseView', description: 'A case as staff see it: state, tasks, what the caller may do, history' });

export const transitionResultSchema = z
  .object({
    caseId: z.string(),
    reference: z.string(),
    version: z.number().int(),
    status: caseStatus,
    stage: z.string(),
    activeStates: z.array(activeStateSchema),
    facts: factsSchema,
    openTasks: z.array(taskSchema),
    allowedEvents: z.array(actionSchema).describe('Events the caller may send now'),
  })
  .meta({ id: 'TransitionResult', description: 'The case after the command (GET the case for its history)' });

export const openedCaseSchema = z
  .object({
    id: z.string(),
    reference: z.string().describe('受理编号'),
    trackingCode: z.string().describe('查询码: shown once, only its hash is stored'),
    version: z.number().int(),
  })
  .meta({ id: 'OpenedCase' });

export const trackingViewSchema = z
  .object({
    reference: z.string(),
    procedureName: z.string(),
    applicantName: z.string().describe('Masked'),
    status: caseStatus,
    stage: z.string().describe('Current stage in plain Chinese'),
    handlingDepartments: z.array(z.string()),
    missingMaterials: z.array(z.string()),
    decision: z
      .object({
        approved: z.boolean(),
        monthlyAmountFen: z.number().int().optional(),
        startMonth: z.string().optional(),
        reason: z.string().optional(),
        remedy: z.string().optional(),
      })
      .nullable(),
    deadline: deadlineSchema,
    deadlineText: z.string().nullable().describe('= deadline.text: the expected completion date in plain Chinese, e.g. "预计完成日期待定（2027年节假日安排尚未公布）"'),
    submittedAt: z.string(),
    updatedAt: z.string(),
    timeline: z.array(z.object({ at: z.string(), step: z.string() })),
    rating: z
      .object({
        acceptance: z.string().nullable().describe('Level given to the acceptance stage; null: not rated'),
        decision: z.string().nullable().describe('Level given to the decision; null: not rated'),
        decided: z.boolean().describe('The case is decided: its result may be rated (once)'),
      })
      .describe('好差评: what is rated and what may still be (POST /api/track/{reference}/ratings)'),
  })
  .meta({ id: 'TrackingView', description: 'What the citizen sees' });

export const idParams = z.object({ id: z.uuid('无效的编号') });

/**
 * Adds each action's data-schema reference wherever an engine result lists actions (the engine
 * builds `{ type, label }`; where the schema lives in the document is the HTTP layer's business).
 */
export function withActions<A extends { type: string }>(def: ProcedureDefinition, actions: A[]) {
  return actions.map((a) => ({ ...actionView(def, a.type), ...a }));
}

type WithTasks = { allowedEvents: Array<{ type: string; label: string }>; openTasks: Array<{ actions: Array<{ type: string }> }>; closedTasks?: Array<{ actions: Array<{ type: string }> }> };

export function withActionSchemas<T extends WithTasks>(def: ProcedureDefinition, result: T): T & { allowedEvents: Array<z.output<typeof actionSchema>> } {
  const task = <K extends { actions: Array<{ type: string }> }>(t: K) => ({ ...t, actions: withActions(def, t.actions) });
  return {
    ...result,
    allowedEvents: withActions(def, result.allowedEvents),
    openTasks: result.openTasks.map(task),
    ...(result.closedTasks ? { closedTasks: result.closedTasks.map(task) } : {}),
  };
}
