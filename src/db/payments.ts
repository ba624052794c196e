import type { Db } from './connection.ts';

export interface PaymentRow {
  id: string;
  case_id: string;
  period: string;
  amount_fen: number;
  event_id: string;
  created_at: Date;
}

/**
 * Records a payment; returns null if that case was already paid for that period.
 * The unique (case_id, period) constraint is the last line of defence against paying twice.
 */
export async function insertPayment(db: Db, row: Omit<PaymentRow, 'id'>): Promise<string | null> {
  const inserted = await db('payments').insert(row).onConflict(['case_id', 'period']).ignore().returning('id');
  return inserted.length ? String(inserted[0].id) : null;
}

export async function listPayments(db: Db, caseId: string): Promise<PaymentRow[]> {
  const rows = await db<PaymentRow>('payments').where({ case_id: caseId }).orderBy('period');
  return rows.map((r) => ({ ...r, id: String(r.id), amount_fen: Number(r.amount_fen) }));
}
