import type { Db } from './connection.ts';

export type ApplicationStatus = 'draft' | 'submitted' | 'accepted' | 'returned';

export interface OnlineApplicationRow {
  id: string;
  procedure_id: string;
  region_code: string;
  status: ApplicationStatus;
  applicant_name: string;
  /** Sealed (PersonalDataCipher). */
  applicant: Record<string, unknown>;
  application: Record<string, unknown>;
  materials: Array<{ code: string; count: number }>;
  code_hash: string | null;
  code_expires_at: Date | null;
  code_attempts: number;
  code_sent_at: Date | null;
  codes_sent: number;
  created_at: Date;
  submitted_at: Date | null;
  decided_at: Date | null;
  decided_by: string | null;
  case_id: string | null;
  returned_missing: string[] | null;
  return_note: string | null;
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
const asRow = (r: any): OnlineApplicationRow => ({
  ...r,
  applicant: json(r.applicant),
  application: json(r.application),
  materials: json(r.materials),
  returned_missing: r.returned_missing == null ? null : json(r.returned_missing),
  code_attempts: Number(r.code_attempts),
  codes_sent: Number(r.codes_sent),
});

export async function insertApplication(db: Db, row: Pick<OnlineApplicationRow, 'id' | 'procedure_id' | 'region_code' | 'applicant_name' | 'applicant' | 'application' | 'materials' | 'created_at'>): Promise<void> {
  await db('online_applications').insert({
    ...row,
    status: 'draft',
    applicant: JSON.stringify(row.applicant),
    application: JSON.stringify(row.application),
    materials: JSON.stringify(row.materials),
  });
}

export async function getApplication(db: Db, id: string): Promise<OnlineApplicationRow | undefined> {
  const r = await db('online_applications').where({ id }).first();
  return r ? asRow(r) : undefined;
}

/** The row locked for the rest of the caller's transaction (code checks, 预审 decisions). */
export async function lockApplication(trx: Db, id: string): Promise<OnlineApplicationRow | undefined> {
  const r = await trx('online_applications').where({ id }).forUpdate().first();
  return r ? asRow(r) : undefined;
}

export async function updateApplication(db: Db, id: string, patch: Partial<Omit<OnlineApplicationRow, 'id'>>): Promise<void> {
  const p: Record<string, unknown> = { ...patch };
  if (patch.returned_missing !== undefined) p.returned_missing = patch.returned_missing === null ? null : JSON.stringify(patch.returned_missing);
  await db('online_applications').where({ id }).update(p);
}

/**
 * The 预审 queue: submitted applications of the given procedures in a region and below, oldest
 * first; keyset on (submitted_at, id).
 */
export async function listSubmitted(
  db: Db,
  f: { regionPrefix: string; procedureIds: string[]; after?: { submittedAt: Date; id: string } },
  limit: number,
): Promise<OnlineApplicationRow[]> {
  const q = db('online_applications')
    .where('status', 'submitted')
    .andWhere('region_code', 'like', `${f.regionPrefix}%`)
    .whereIn('procedure_id', f.procedureIds.length ? f.procedureIds : ['-'])
    .orderBy([{ column: 'submitted_at' }, { column: 'id' }])
    .limit(limit);
  if (f.after) {
    const { submittedAt, id } = f.after;
    q.andWhere((w) => w.where('submitted_at', '>', submittedAt).orWhere((x) => x.where('submitted_at', submittedAt).andWhere('id', '>', id)));
  }
  return (await q).map(asRow);
}

export async function countSubmitted(db: Db, f: { regionPrefix: string; procedureIds: string[] }): Promise<number> {
  const [{ n }] = await db('online_applications')
    .where('status', 'submitted')
    .andWhere('region_code', 'like', `${f.regionPrefix}%`)
    .whereIn('procedure_id', f.procedureIds.length ? f.procedureIds : ['-'])
    .count({ n: '*' });
  return Number(n);
}
