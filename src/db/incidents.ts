import type { Db } from './connection.ts';

/**
 * Incidents (docs/payments.md; Camunda Operate's incidents are the model): effects that stopped
 * retrying. Not a table of its own but a read over three: payments in `incident`, timers
 * `failed`, notices `dead` — each source keeps its own state, so an incident cannot disagree
 * with what it describes. Retry and resolve write to the source's own module.
 */

export type IncidentKind = 'payment' | 'timer' | 'notice';
export const INCIDENT_KINDS: IncidentKind[] = ['payment', 'timer', 'notice'];

export interface IncidentRow {
  kind: IncidentKind;
  source_id: string;
  case_id: string | null;
  reference: string | null;
  region_code: string;
  /** payment: period; timer: kind and event; notice: kind. */
  detail: string;
  amount_fen: number | null;
  attempts: number;
  error: string | null;
  /** When it happened as far as the source records it: its last update (payment, notice), its due time (timer). */
  at: Date;
}

export interface IncidentKey {
  at: Date;
  kind: IncidentKind;
  sourceId: string;
}

const BRANCHES: Record<IncidentKind, string> = {
  payment: `select 'payment' as kind, p.id::text as source_id, p.case_id, c.reference, c.region_code, p.period as detail, p.amount_fen, p.attempts, p.last_error as error, coalesce(p.updated_at, p.created_at) as at
            from payments p join cases c on c.id = p.case_id where p.status = 'incident' and c.region_code like ?`,
  timer: `select 'timer' as kind, t.id::text as source_id, t.case_id, c.reference, c.region_code, t.kind || ':' || t.event_type as detail, null::bigint as amount_fen, t.attempts, t.last_error as error, t.due_at as at
          from timers t join cases c on c.id = t.case_id where t.status = 'failed' and c.region_code like ?`,
  notice: `select 'notice' as kind, n.id::text as source_id, n.case_id, coalesce(c.reference, n.payload->>'reference') as reference, n.region_code, n.kind as detail, null::bigint as amount_fen, n.attempts, n.last_error as error, n.updated_at as at
           from notices n left join cases c on c.id = n.case_id where n.status = 'dead' and n.region_code like ?`,
};

const asRow = (r: any): IncidentRow => ({ ...r, source_id: String(r.source_id), attempts: Number(r.attempts), amount_fen: r.amount_fen === null ? null : Number(r.amount_fen), at: new Date(r.at) });

/** Newest first, in keyset pages on (at, kind, source id). */
export async function listIncidents(db: Db, f: { regionPrefix: string; kind?: IncidentKind; after?: IncidentKey }, limit: number): Promise<IncidentRow[]> {
  const kinds = f.kind ? [f.kind] : INCIDENT_KINDS;
  const union = kinds.map((k) => BRANCHES[k]).join('\n union all \n');
  const bindings: any[] = kinds.map(() => `${f.regionPrefix}%`);
  let where = '';
  if (f.after) {
    where = 'where (i.at, i.kind, i.source_id) < (?, ?, ?)';
    bindings.push(f.after.at, f.after.kind, f.after.sourceId);
  }
  bindings.push(limit);
  const { rows } = await db.raw(`select * from (${union}) i ${where} order by i.at desc, i.kind desc, i.source_id desc limit ?`, bindings);
  return (rows as any[]).map(asRow);
}

/** Open incidents per kind (the screen's tabs), each counting at most `cap`. */
export async function countIncidents(db: Db, regionPrefix: string, cap: number): Promise<Record<IncidentKind, number>> {
  const out = {} as Record<IncidentKind, number>;
  for (const k of INCIDENT_KINDS) {
    const { rows } = await db.raw(`select count(*) as n from (${BRANCHES[k]} limit ?) i`, [`${regionPrefix}%`, cap]);
    out[k] = Number(rows[0].n);
  }
  return out;
}

export async function getIncident(db: Db, kind: IncidentKind, sourceId: string): Promise<IncidentRow | undefined> {
  const { rows } = await db.raw(`select * from (${BRANCHES[kind]}) i where i.source_id = ?`, ['%', sourceId]);
  return rows.length ? asRow(rows[0]) : undefined;
}
