import { z } from 'zod';
import type { ProcedureDefinition, Role } from '../../../workflows/index.ts';
import type { ProcedureRegistry } from '../../engine/registry.ts';
import { expectedVersionField } from './procedureSchemas.ts';

// The wire envelopes of the commands on a case, shared by the generic and the per-procedure routes.

/**
 * Who may call the commands at all, decided before the body is validated (src/http/auth.ts); the
 * engine decides the rest. Shared so the typed per-procedure routes cannot drift from the generic ones.
 */
export const EVENT_SENDER_ROLES: Role[] = ['clerk', 'reviewer'];
/** Supervisors complete their 差评整改 and 回访 tasks (docs/ratings.md). */
export const TASK_WORKER_ROLES: Role[] = ['clerk', 'reviewer', 'supervisor'];

/** Refusals of a command on a case. */
export const COMMAND_REFUSALS = [
  'NOT_FOUND',
  'NOT_YOUR_DEPARTMENT',
  'NOT_PERMITTED',
  'VERSION_CONFLICT',
  'EVENT_NOT_ALLOWED',
  'EVENT_REFUSED',
  'CASE_CLOSED',
  'ALREADY_PAID',
  'TASK_CLAIMED_BY_OTHER',
  'CASE_BUSY',
  'CALENDAR_YEAR_MISSING',
  'INVALID_EVENT_DATA',
] as const;

export const COMPLETION_REFUSALS = [...COMMAND_REFUSALS, 'INVALID_OUTCOME', 'TASK_NOT_OPEN'] as const;

/** `type` and `data` are checked by the engine against the case's own procedure. */
export const eventEnvelope = z.object({
  type: z.string().min(1).max(64).describe("An event of the case's procedure; the typed per-procedure operations enumerate them with their data"),
  data: z.record(z.string(), z.unknown()).optional().describe("The event's data, validated by its <Procedure>_<TYPE> schema"),
  expectedVersion: expectedVersionField,
});

/** `outcome` and `data` are checked by the engine against the task and its procedure. */
export const completionEnvelope = z.object({
  outcome: z.string().min(1).max(64).describe("One of the task's actions; the typed per-procedure operations enumerate them with their data"),
  data: z.record(z.string(), z.unknown()).optional().describe("The outcome's data, validated by its <Procedure>_<TYPE> schema"),
  expectedVersion: expectedVersionField.optional(),
});

/** Reference numbers start with the procedure's code (DB-…), so a command's result names its procedure. */
export const procedureOfReference = (registry: ProcedureRegistry, reference: string): ProcedureDefinition =>
  registry.list().find((d) => reference.startsWith(`${d.code}-`))!;
