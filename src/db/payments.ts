import type { Db } from './connection.ts';

export type PaymentStatus = 'requested' | 'sent' | 'paid' | 'failed' | 'incident' | 'abandoned';

export interface PaymentRow {
  id: string;
  case_id: string;
  period: string;
  amount_fen: number;
  event_id: string;
  created_at: Date;
}

/** A payment with its delivery state (migration 013, docs/payments.md). */
export interface DeliveryRow extends PaymentRow {
  status: PaymentStatus;
  round: number;
  attempts: number;
  next_attempt_at: Date | null;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  channel: string | null;
  batch_id: string | null;
  bank_reference: string | null;
  sent_at: Date | null;
  paid_at: Date | null;
  failure_reason: string | null;
  correction_task_id: string | null;
  updated_at: Date | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  resolution: string | null;
}

/** The bank's idempotency key of one round of a payment: `<paymentId>-<round>`. */
export const instructionId = (p: { id: string; round: number }) => `${p.id}-${p.round}`;

const asRow = (r: any): DeliveryRow => ({
  ...r,
  id: String(r.id),
  amount_fen: Number(r.amount_fen),
  event_id: String(r.event_id),
  round: Number(r.round),
  attempts: Number(r.attempts),
  batch_id: r.batch_id === null || r.batch_id === undefined ? null : String(r.batch_id),
});

/**
 * Records a payment; returns null if that case was already paid for that period.
 * The unique (case_id, period) constraint is the last line of defence against paying twice.
 */
export async function insertPayment(db: Db, row: Omit<PaymentRow, 'id'>): Promise<string | null> {
  const inserted = await db('payments').insert(row).onConflict(['case_id', 'period']).ignore().returning('id');
  return inserted.length ? String(inserted[0].id) : null;
}

export async function listPayments(db: Db, caseId: string): Promise<DeliveryRow[]> {
  return (await db('payments').where({ case_id: caseId }).orderBy('period')).map(asRow);
}

/** What clerks read for a payment's delivery state (the case page). */
export const PAYMENT_STATUS_LABELS: Record<PaymentStatus, string> = {
  requested: '待发出',
  sent: '已发出，待银行回盘',
  paid: '已到账',
  failed: '发放失败，待更正',
  incident: '发放故障，待管理员处理',
  abandoned: '已停止发放',
};

export async function getPayment(db: Db, id: string): Promise<DeliveryRow | undefined> {
  const r = await db('payments').where({ id }).first();
  return r ? asRow(r) : undefined;
}

export async function lockPayment(db: Db, id: string): Promise<DeliveryRow | undefined> {
  const r = await db('payments').where({ id }).forUpdate().first();
  return r ? asRow(r) : undefined;
}

/**
 * Takes up to `limit` unprocessed `payment.requested` outbox rows (SKIP LOCKED, so deliverers
 * take side by side) and makes their payments due now, in the caller's transaction. A row of a
 * payment no longer requested (taken twice, resolved) changes nothing.
 */
export async function takePaymentOutbox(trx: Db, now: Date, limit: number): Promise<number> {
  const { rows } = await trx.raw(
    `select id, payload from outbox where processed_at is null and kind = 'payment.requested' and created_at <= ?
     order by created_at, id limit ? for update skip locked`,
    [now, limit],
  );
  if (!rows.length) return 0;
  const ids = (rows as any[]).map((r) => String((typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload).paymentId));
  await trx('payments').whereIn('id', ids).andWhere({ status: 'requested' }).whereNull('next_attempt_at').update({ next_attempt_at: now, updated_at: now });
  await trx('outbox').whereIn('id', (rows as any[]).map((r) => r.id)).update({ processed_at: now });
  return rows.length;
}

/** Leases up to `limit` due payments to `workerId` until `leaseUntil` (SKIP LOCKED). */
export async function claimDuePayments(db: Db, workerId: string, now: Date, leaseUntil: Date, limit: number): Promise<DeliveryRow[]> {
  const { rows } = await db.raw(
    `update payments set locked_by = ?, locked_until = ?, updated_at = ?
     where id in (
       select id from payments
       where status = 'requested' and next_attempt_at <= ? and (locked_until is null or locked_until < ?)
       order by next_attempt_at
       limit ?
       for update skip locked)
     returning *`,
    [workerId, leaseUntil, now, now, now, limit],
  );
  return (rows as any[]).map(asRow).sort((a, b) => Number(a.id) - Number(b.id));
}

/** Just before handing it to the adapter: renews the lease and counts the attempt, only if still ours. */
export async function startAttempt(db: Db, id: string, workerId: string, now: Date, leaseUntil: Date): Promise<DeliveryRow | null> {
  const rows = await db('payments')
    .where({ id, locked_by: workerId, status: 'requested' })
    .andWhere('locked_until', '>', now)
    .update({ locked_until: leaseUntil, attempts: db.raw('attempts + 1'), updated_at: now })
    .returning('*');
  return rows.length ? asRow(rows[0]) : null;
}

/** The adapter accepted the instruction: never delivered again in this round. */
export async function markSent(db: Db, id: string, round: number, r: { channel: string; batchId: string | null; bankReference: string | null; at: Date }): Promise<void> {
  await db('payments')
    .where({ id, round, status: 'requested' })
    .update({ status: 'sent', sent_at: r.at, channel: r.channel, batch_id: r.batchId, bank_reference: r.bankReference, locked_until: null, last_error: null, updated_at: r.at });
}

/** A failed attempt: retried from `retryAt`, or an incident (no more retries). */
export async function recordFailure(db: Db, id: string, workerId: string, r: { error: string; channel: string; retryAt: Date; incident: boolean; at: Date }): Promise<void> {
  await db('payments')
    .where({ id, locked_by: workerId, status: 'requested' })
    .update({ status: r.incident ? 'incident' : 'requested', last_error: r.error.slice(0, 2000), channel: r.channel, next_attempt_at: r.retryAt, locked_until: null, updated_at: r.at });
}

export async function releasePayments(db: Db, ids: string[], workerId: string): Promise<void> {
  if (ids.length) await db('payments').whereIn('id', ids).andWhere({ locked_by: workerId, status: 'requested' }).update({ locked_until: null });
}

/** The bank's result: paid. */
export async function markPaid(db: Db, id: string, r: { bankReference: string | null; at: Date }): Promise<void> {
  await db('payments').where({ id }).update({ status: 'paid', paid_at: r.at, bank_reference: r.bankReference, updated_at: r.at });
}

/** The bank's result, or a delivery that cannot be made as it is (no card): failed, awaiting correction. */
export async function markFailed(db: Db, id: string, r: { reason: string; correctionTaskId: string; at: Date }): Promise<void> {
  await db('payments').where({ id }).update({ status: 'failed', failure_reason: r.reason.slice(0, 200), correction_task_id: r.correctionTaskId, locked_until: null, updated_at: r.at });
}

/**
 * Queues the payment again for delivery — the next round after a correction, or the same round
 * after an incident's retry — with a fresh count of attempts; the caller writes its outbox row.
 */
export async function requeue(db: Db, id: string, r: { nextRound: boolean; at: Date; by?: string; resolution?: string }): Promise<void> {
  await db('payments')
    .where({ id })
    .update({
      status: 'requested',
      ...(r.nextRound ? { round: db.raw('round + 1'), batch_id: null, bank_reference: null, sent_at: null, channel: null, correction_task_id: null } : {}),
      attempts: 0,
      next_attempt_at: null,
      locked_by: null,
      locked_until: null,
      updated_at: r.at,
      ...(r.by ? { resolved_by: r.by, resolved_at: r.at, resolution: r.resolution ?? null } : {}),
    });
}

/** An incident resolved without delivery (paid another way, no longer due): never delivered. */
export async function abandon(db: Db, id: string, r: { by: string; at: Date; resolution: string }): Promise<void> {
  await db('payments').where({ id, status: 'incident' }).update({ status: 'abandoned', resolved_by: r.by, resolved_at: r.at, resolution: r.resolution, locked_until: null, updated_at: r.at });
}

/** Payments of a case, with their delivery state (the case page, tests). */
export async function deliveriesOfCase(db: Db, caseId: string): Promise<DeliveryRow[]> {
  return (await db('payments').where({ case_id: caseId }).orderBy('id')).map(asRow);
}

/** The failed payment a 发放失败更正 task was opened for. */
export async function paymentOfCorrectionTask(db: Db, taskId: string): Promise<DeliveryRow | undefined> {
  const r = await db('payments').where({ correction_task_id: taskId }).forUpdate().first();
  return r ? asRow(r) : undefined;
}
