import type { Db } from './connection.ts';

export interface ReconciliationRow {
  id: string;
  sha256: string;
  region_code: string;
  file_name: string | null;
  imported_by: string;
  imported_at: Date;
  result: unknown;
}

/** The earlier import of the same file by the same region, if any (re-importing is a no-op). */
export async function findImport(db: Db, regionCode: string, sha256: string): Promise<ReconciliationRow | undefined> {
  const r = await db('payment_reconciliations').where({ region_code: regionCode, sha256 }).first();
  return r ? { ...r, id: String(r.id) } : undefined;
}

/** Records an import; false if the same file was recorded meanwhile (the caller rolls back). */
export async function insertImport(db: Db, row: Omit<ReconciliationRow, 'id'>): Promise<string | null> {
  const inserted = await db('payment_reconciliations')
    .insert({ ...row, result: JSON.stringify(row.result) })
    .onConflict(['region_code', 'sha256'])
    .ignore()
    .returning('id');
  return inserted.length ? String(inserted[0].id) : null;
}
