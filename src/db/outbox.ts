import type { Db } from './connection.ts';
import { insertSql, type Sql } from './sql.ts';

/** Side effects leave the engine only as outbox rows written in the transition's transaction. */
export async function insertOutbox(db: Db, caseId: string, kind: string, payload: unknown, createdAt: Date): Promise<void> {
  await db('outbox').insert({ case_id: caseId, kind, payload: JSON.stringify(payload), created_at: createdAt });
}

/** Outbox rows not yet taken by their consumer, of one kind prefix (tests, the admin view). */
export async function countPending(db: Db, kindPrefix: string): Promise<number> {
  const [{ n }] = await db('outbox').whereNull('processed_at').andWhere('kind', 'like', `${kindPrefix}%`).count({ n: '*' });
  return Number(n);
}

/**
 * A citizen notice: outbox row `notice.<kind>` with its template data, in the caller's
 * transaction (src/notifications/triggers.ts builds the drafts; docs/notifications.md).
 */
export async function insertNotice(db: Db, caseId: string, notice: { kind: string; payload: unknown }, createdAt: Date): Promise<void> {
  await insertOutbox(db, caseId, `notice.${notice.kind}`, notice.payload, createdAt);
}

/** insertNotice for several notices of one case, in order, as a statement to run with others (batch.ts). */
export function insertNoticesQuery(caseId: string, notices: Array<{ kind: string; payload: unknown }>, createdAt: Date): Sql {
  return insertSql('outbox', notices.map((n) => ({ case_id: caseId, kind: `notice.${n.kind}`, payload: JSON.stringify(n.payload), created_at: createdAt })));
}

/** A notice of an online application (the phone code, a return at 预审): no case exists yet. */
export async function insertApplicationNotice(db: Db, applicationId: string, notice: { kind: string; payload: unknown }, createdAt: Date): Promise<void> {
  await db('outbox').insert({ case_id: null, application_id: applicationId, kind: `notice.${notice.kind}`, payload: JSON.stringify(notice.payload), created_at: createdAt });
}
