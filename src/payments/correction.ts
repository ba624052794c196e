import type { TaskMeta } from '../../workflows/index.ts';
import type { Db } from '../db/connection.ts';
import * as cases from '../db/cases.ts';
import * as outbox from '../db/outbox.ts';
import * as payments from '../db/payments.ts';
import * as tasks from '../db/tasks.ts';
import * as timers from '../db/timers.ts';
import type { Actor } from '../engine/authorization.ts';
import { appendCaseNote } from '../engine/caseNotes.ts';
import { escalationTimers, openingTask } from '../engine/deadlines.ts';
import type { Engine } from '../engine/engine.ts';
import { DomainError } from '../engine/errors.ts';
import { maskBankCard } from '../engine/masking.ts';

/**
 * The case side of 发放 (docs/payments.md): the bank's result on a payment, written as a
 * hash-chained case event under the case lock in the caller's transaction, and the 发放失败更正
 * service task a failure opens. Like 整改/回访 (src/engine/commands/service.ts) the task comes from
 * no chart state, so the chart's reconciliation leaves it alone.
 */

export const CORRECTION_STATE = 'service.paymentCorrection';
/**
 * The township window (社会救助 一门受理) holds it: the citizen brings the new card there, where
 * the application was taken. Five working days, the same as a 回访 (a local rule, not a statute).
 */
export const CORRECTION_TASK: TaskMeta = {
  title: '发放失败：更正账户并重新发放',
  department: 'township-window',
  role: 'clerk',
  actions: ['PAYMENT_CORRECTED'],
  timeLimit: { days: 5, unit: 'WD', source: 'local' },
};

const who = (actor: Actor | { id: string | null; name: string }) => ({ id: actor.id, name: actor.name });

/** Locks the case, then the payment (the order every writer of a case uses). */
async function lockBoth(trx: Db, caseId: string, paymentId: string) {
  const row = await cases.lockCase(trx, caseId);
  const payment = await payments.lockPayment(trx, paymentId);
  if (!row || !payment) throw new DomainError('not_found', 'NOT_FOUND', '未找到该发放记录');
  return { row, payment };
}

/** PAYMENT_PAID: the bank confirmed the instruction. */
export async function recordPaid(engine: Engine, trx: Db, p: payments.DeliveryRow, r: { bankReference: string | null; actor: { id: string | null; name: string }; source: string }) {
  const { row, payment } = await lockBoth(trx, p.case_id, p.id);
  const now = engine.clock();
  await payments.markPaid(trx, payment.id, { bankReference: r.bankReference, at: now });
  await appendCaseNote(
    trx,
    row,
    'PAYMENT_PAID',
    { paymentId: payment.id, instructionId: payments.instructionId(payment), period: payment.period, amountFen: payment.amount_fen, bankReference: r.bankReference, source: r.source },
    who(r.actor),
    now,
  );
}

/**
 * PAYMENT_FAILED: the bank refused the instruction (or the case has no card to pay to). Opens
 * the 发放失败更正 task for the case's township window; the payment waits for it.
 */
export async function recordFailed(engine: Engine, trx: Db, p: payments.DeliveryRow, r: { reason: string; actor: { id: string | null; name: string }; source: string }) {
  const { row, payment } = await lockBoth(trx, p.case_id, p.id);
  const now = engine.clock();
  const def = engine.registry.pinned(row.procedure_id, row.definition_version);
  const calendar = await engine.calendars.forRegion(trx, row.region_code);
  const meta = CORRECTION_TASK;
  const task = openingTask(def, row, CORRECTION_STATE, meta, calendar, now, `${meta.title}（${payment.period}）`);
  await tasks.insertTasks(trx, [task]);
  await timers.insertTimers(trx, escalationTimers(task, meta, now));
  await payments.markFailed(trx, payment.id, { reason: r.reason, correctionTaskId: task.id, at: now });
  await appendCaseNote(
    trx,
    row,
    'PAYMENT_FAILED',
    { paymentId: payment.id, instructionId: payments.instructionId(payment), period: payment.period, amountFen: payment.amount_fen, reason: r.reason, source: r.source, correctionTaskId: task.id },
    who(r.actor),
    now,
  );
  return task;
}

/**
 * Completing the 发放失败更正 task (called by completeServiceTask under the case lock): seals the
 * new card on the case and queues the SAME payment again, as its next round, through the outbox.
 * Returns the event's payload: the card's last digits only.
 */
export async function paymentCorrected(engine: Engine, trx: Db, row: cases.CaseRow, task: tasks.TaskRow, data: { bankCard: string; note: string }, now: Date) {
  const payment = await payments.paymentOfCorrectionTask(trx, task.id);
  if (!payment || payment.status !== 'failed') throw new DomainError('conflict', 'PAYMENT_NOT_FAILED', '该笔发放不是发放失败状态，无需更正');
  const applicant = { ...row.applicant, bankCard: engine.cipher.encrypt(data.bankCard) };
  await cases.updateApplicant(trx, row.id, applicant, now);
  row.applicant = applicant;
  await payments.requeue(trx, payment.id, { nextRound: true, at: now });
  const next = { id: payment.id, round: payment.round + 1 };
  await outbox.insertOutbox(trx, row.id, 'payment.requested', { paymentId: payment.id, period: payment.period, amountFen: payment.amount_fen, round: next.round }, now);
  return { paymentId: payment.id, instructionId: payments.instructionId(next), period: payment.period, bankCard: maskBankCard(data.bankCard), note: data.note };
}

/** INCIDENT_RETRIED / INCIDENT_RESOLVED on the case an incident belongs to (the case is locked here). */
export async function recordIncidentDecision(engine: Engine, trx: Db, caseId: string, type: 'INCIDENT_RETRIED' | 'INCIDENT_RESOLVED', payload: Record<string, unknown>, actor: Actor) {
  const row = await cases.lockCase(trx, caseId);
  if (!row) return;
  await appendCaseNote(trx, row, type, payload, who(actor), engine.clock());
}
