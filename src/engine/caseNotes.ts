import type { Db } from '../db/connection.ts';
import * as cases from '../db/cases.ts';
import * as caseEvents from '../db/caseEvents.ts';
import { eventHash } from './audit.ts';
import { DomainError } from './errors.ts';

/**
 * Case events the chart does not act on — a delegation, a rating, a payment's outcome, an
 * escalation, a deadline recompute, a definition migration: the case's version moves and its
 * chain grows, its state stays. Their names live here, beside the one way to append them, so the
 * views that label them and the commands that write them need not import each other.
 */
export const ASSIGNMENT_EVENTS = { TASK_DELEGATED: '任务委派', TASK_REASSIGNED: '任务改派' } as const;
export type AssignmentEvent = keyof typeof ASSIGNMENT_EVENTS;
/** After a calendar load (calendarRecompute.ts). */
export const DEADLINES_RECOMPUTED = 'DEADLINES_RECOMPUTED';
/** A case moved to a newer version of its procedure (commands/migrateDefinition.ts). */
export const MIGRATION_EVENT = 'DEFINITION_MIGRATED';
/** What staff and citizens read for these notes (views.ts). */
export const NOTE_LABELS: Record<string, string> = {
  ...ASSIGNMENT_EVENTS,
  [DEADLINES_RECOMPUTED]: '时限已按公布的节假日安排重新计算',
  [MIGRATION_EVENT]: '办理流程版本升级',
};

/**
 * Appends a note to the case's hash chain under the caller's case lock. The version check makes
 * a command that raced past the lock lose (409). `row` is advanced in place (version, chain
 * head), so one command may append several notes, or write on top of one, with the row it holds.
 */
export async function appendCaseNote(trx: Db, row: cases.CaseRow, type: string, payload: Record<string, unknown>, actor: { id: string | null; name: string }, now: Date): Promise<void> {
  const content = { case_id: row.id, seq: row.version + 1, type, payload, actor_id: actor.id, actor_name: actor.name, from_state: row.state_value, to_state: row.state_value, occurred_at: now };
  const hash = eventHash(content, row.chain_head);
  if (!(await cases.saveTransition(trx, row.id, row.version, { status: row.status, stateValue: row.state_value, snapshot: row.snapshot, updatedAt: now, chainHead: hash }))) {
    throw new DomainError('conflict', 'VERSION_CONFLICT', '办件已被他人更新，请刷新后重试');
  }
  await caseEvents.appendEvent(trx, { ...content, prev_hash: row.chain_head, hash });
  row.version += 1;
  row.chain_head = hash;
}
