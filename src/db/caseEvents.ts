import type { Db } from './connection.ts';
import { insertSql, type Sql } from './sql.ts';

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
  const [inserted] = await appendEventQuery(row).run(db);
  return String(inserted.id);
}

/** appendEvent as a statement to run with others (batch.ts): returns the event's id. */
export function appendEventQuery(row: Omit<CaseEventRow, 'id'>): Sql {
  return insertSql(
    'case_events',
    [
      {
        ...row,
        payload: JSON.stringify(row.payload),
        from_state: row.from_state === null ? null : JSON.stringify(row.from_state),
        to_state: JSON.stringify(row.to_state),
      },
    ],
    'id',
  );
}

export async function listEvents(db: Db, caseId: string): Promise<CaseEventRow[]> {
  return db<CaseEventRow>('case_events').where({ case_id: caseId }).orderBy('seq');
}

/** A case's events of some types, in order (ratings, invitations: the service duties' checks). */
export async function eventsOfType(db: Db, caseId: string, types: string[]): Promise<CaseEventRow[]> {
  return db<CaseEventRow>('case_events').where({ case_id: caseId }).whereIn('type', types).orderBy('seq');
}
