import type { Db } from './connection.ts';

export interface CaseEventRow {
  id: string;
  case_id: string;
  seq: number;
  type: string;
  payload: Record<string, unknown>;
  actor_id: string | null;
  actor_name: string | null;
  from_state: unknown;
  to_state: unknown;
  occurred_at: Date;
  prev_hash: string | null;
  hash: string | null;
}

export async function appendEvent(db: Db, row: Omit<CaseEventRow, 'id'>): Promise<string> {
  const [inserted] = await appendEventQuery(db, row);
  return String(inserted.id);
}

/** appendEvent as a statement to run with others (batch.ts): returns the event's id. */
export function appendEventQuery(db: Db, row: Omit<CaseEventRow, 'id'>) {
  return db('case_events')
    .insert({
      ...row,
      payload: JSON.stringify(row.payload),
      from_state: row.from_state === null ? null : JSON.stringify(row.from_state),
      to_state: JSON.stringify(row.to_state),
    })
    .returning('id');
}

export async function listEvents(db: Db, caseId: string): Promise<CaseEventRow[]> {
  return db<CaseEventRow>('case_events').where({ case_id: caseId }).orderBy('seq');
}

/** A case's events of some types, in order (ratings, invitations: the service duties' checks). */
export async function eventsOfType(db: Db, caseId: string, types: string[]): Promise<CaseEventRow[]> {
  return db<CaseEventRow>('case_events').where({ case_id: caseId }).whereIn('type', types).orderBy('seq');
}
