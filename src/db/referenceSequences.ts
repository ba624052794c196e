import type { Db } from './connection.ts';

/** Next sequence number for a region, procedure and day; atomic under concurrency. */
export async function nextSequence(db: Db, regionCode: string, procedureCode: string, day: string): Promise<number> {
  const { rows } = await db.raw(
    `insert into reference_sequences (region_code, procedure_code, day, last_seq) values (?, ?, ?, 1)
     on conflict (region_code, procedure_code, day) do update set last_seq = reference_sequences.last_seq + 1
     returning last_seq`,
    [regionCode, procedureCode, day],
  );
  return Number(rows[0].last_seq);
}
