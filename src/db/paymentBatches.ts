import type { Db } from './connection.ts';

export interface BatchRow {
  id: string;
  region_code: string;
  month: string;
  file_name: string;
  line_count: number;
  total_fen: number;
  sha256: string | null;
  written_at: Date | null;
  rendered_line_id: string | null;
  created_at: Date;
}

export interface BatchLineRow {
  id: string;
  batch_id: string;
  payment_id: string;
  round: number;
  instruction_id: string;
  amount_fen: number;
  period: string;
  payee_name: string;
  /** Sealed (PersonalDataCipher). */
  bank_card: string;
  reference: string;
  summary: string;
  created_at: Date;
}

const batchRow = (r: any): BatchRow => ({ ...r, id: String(r.id), line_count: Number(r.line_count), total_fen: Number(r.total_fen) });
const lineRow = (r: any): BatchLineRow => ({ ...r, id: String(r.id), batch_id: String(r.batch_id), payment_id: String(r.payment_id), round: Number(r.round), amount_fen: Number(r.amount_fen) });

/** The batch of a region and month, created on first use (unique: two deliverers get the same one). */
export async function batchFor(db: Db, regionCode: string, month: string, fileName: string, now: Date): Promise<BatchRow> {
  await db('payment_batches').insert({ region_code: regionCode, month, file_name: fileName, created_at: now }).onConflict(['region_code', 'month']).ignore();
  return batchRow(await db('payment_batches').where({ region_code: regionCode, month }).first());
}

/** Serialises writers of one batch file for the caller's transaction. */
export async function lockBatch(db: Db, id: string): Promise<BatchRow> {
  return batchRow(await db('payment_batches').where({ id }).forUpdate().first());
}

/**
 * Adds one instruction to a batch; an instruction already in a batch (delivered twice) adds
 * nothing. Returns the batch that holds it.
 */
export async function addLine(db: Db, row: Omit<BatchLineRow, 'id'>): Promise<string> {
  await db('payment_batch_lines').insert(row).onConflict('instruction_id').ignore();
  const held = await db('payment_batch_lines').where({ instruction_id: row.instruction_id }).first('batch_id');
  return String(held.batch_id);
}

export async function linesOf(db: Db, batchId: string): Promise<BatchLineRow[]> {
  return (await db('payment_batch_lines').where({ batch_id: batchId }).orderBy('id')).map(lineRow);
}

export async function recordWritten(db: Db, id: string, r: { lineCount: number; totalFen: number; sha256: string; at: Date; lastLineId: string | null }): Promise<void> {
  await db('payment_batches').where({ id }).update({ line_count: r.lineCount, total_fen: r.totalFen, sha256: r.sha256, written_at: r.at, rendered_line_id: r.lastLineId });
}

/**
 * Batches whose file lacks lines the database holds: a deliverer recorded a line and died before
 * rendering. One index probe per batch (regions × months: a small table).
 */
export async function staleBatchIds(db: Db): Promise<string[]> {
  const rows = await db('payment_batches as b')
    .whereRaw('coalesce(b.rendered_line_id, 0) < (select max(l.id) from payment_batch_lines l where l.batch_id = b.id)')
    .select('b.id');
  return rows.map((r) => String(r.id));
}

export async function getBatch(db: Db, id: string): Promise<BatchRow | undefined> {
  const r = await db('payment_batches').where({ id }).first();
  return r ? batchRow(r) : undefined;
}

export async function listBatches(db: Db, regionPrefix: string, limit: number): Promise<BatchRow[]> {
  return (await db('payment_batches').where('region_code', 'like', `${regionPrefix}%`).orderBy('id', 'desc').limit(limit)).map(batchRow);
}
