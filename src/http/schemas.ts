import { z } from 'zod';
import { errorSchema } from './errors.ts';

// Response shapes, shared by routes and the OpenAPI description.

export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, errorSchema]));

const stateValue = z.unknown().describe('XState state value');
const timeLimit = z.object({ days: z.number(), unit: z.string(), source: z.string() }).nullable();
const action = z.object({ type: z.string(), label: z.string() });

export const taskSchema = z
  .object({
    id: z.string(),
    caseId: z.string(),
    procedureId: z.string(),
    title: z.string(),
    stateId: z.string().describe('The chart state that opened the task'),
    department: z.string(),
    departmentName: z.string(),
    role: z.string(),
    status: z.enum(['open', 'claimed', 'completed', 'cancelled']),
    actions: z.array(action),
    timeLimit,
    assigneeId: z.string().nullable(),
    openedAt: z.string(),
    closedAt: z.string().nullable(),
    outcome: z.string().nullable(),
    dueAt: z.string().nullable().describe('End of the step limit on the statutory calendar'),
    remainingWorkingDays: z.number().int().nullable().describe('Negative once overdue'),
    escalation: z.enum(['none', 'warned', 'overdue', 'red']),
    deadlineNote: z.string().nullable().describe('Why there is no due date (e.g. CALENDAR_YEAR_MISSING:2027)'),
  })
  .describe('Task');

export const deadlineSchema = z
  .object({
    dueAt: z.string().nullable(),
    clockPaused: z.boolean().describe('The whole-case clock is stopped (补正, 公示, 冷静期…)'),
    remainingWorkingDays: z.number().int().nullable(),
    note: z.string().nullable(),
  })
  .describe('Whole-case deadline');

export const inboxItemSchema = taskSchema.extend({
  reference: z.string(),
  applicantName: z.string().describe('Masked'),
  caseVersion: z.number().int(),
});

export const caseViewSchema = z
  .object({
    id: z.string(),
    reference: z.string(),
    procedureId: z.string(),
    procedureName: z.string(),
    definitionVersion: z.number().int(),
    regionCode: z.string(),
    status: z.enum(['running', 'done']),
    version: z.number().int(),
    stage: z.string(),
    stateValue,
    activeStates: z.array(z.object({ stateId: z.string(), stage: z.string() })),
    facts: z.record(z.string(), z.unknown()).describe('Chart context: what the procedure decided on'),
    applicant: z.record(z.string(), z.unknown()).describe('Personal data, masked'),
    deadline: deadlineSchema,
    application: z.record(z.string(), z.unknown()),
    openTasks: z.array(taskSchema),
    closedTasks: z.array(taskSchema),
    allowedEvents: z.array(action),
    history: z.array(
      z.object({
        seq: z.number().int(),
        type: z.string(),
        label: z.string(),
        actor: z.string().nullable(),
        at: z.string(),
        fromState: stateValue,
        toState: stateValue,
        payload: z.record(z.string(), z.unknown()),
      }),
    ),
    payments: z.array(z.object({ period: z.string(), amountFen: z.number(), at: z.string() })),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .describe('Case');

export const transitionResultSchema = z
  .object({
    caseId: z.string(),
    reference: z.string(),
    version: z.number().int(),
    status: z.enum(['running', 'done']),
    stage: z.string(),
    activeStates: z.array(z.object({ stateId: z.string(), stage: z.string() })),
    facts: z.record(z.string(), z.unknown()),
    openTasks: z.array(taskSchema),
    allowedEvents: z.array(action),
  })
  .describe('TransitionResult: the case after the command (GET the case for its history)');

export const trackingViewSchema = z
  .object({
    reference: z.string(),
    procedureName: z.string(),
    applicantName: z.string().describe('Masked'),
    status: z.enum(['running', 'done']),
    stage: z.string().describe('Current stage in plain Chinese'),
    handlingDepartments: z.array(z.string()),
    missingMaterials: z.array(z.string()),
    decision: z
      .object({
        approved: z.boolean(),
        monthlyAmountFen: z.number().optional(),
        startMonth: z.string().optional(),
        reason: z.string().optional(),
        remedy: z.string().optional(),
      })
      .nullable(),
    deadline: deadlineSchema,
    submittedAt: z.string(),
    updatedAt: z.string(),
    timeline: z.array(z.object({ at: z.string(), step: z.string() })),
  })
  .describe('CitizenTracking');

export const idParams = z.object({ id: z.uuid('无效的编号') });
