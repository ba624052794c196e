import type { Db } from './connection.ts';

export type LeadStatus = 'open' | 'converted' | 'closed';
export type LeadUrgency = 'normal' | 'urgent';

export interface LeadRow {
  id: string;
  region_code: string;
  urgency: LeadUrgency;
  status: LeadStatus;
  head_name: string;
  /** { name, idNumber, phone, address, size }: idNumber and phone sealed. */
  household: Record<string, any>;
  situation: string;
  suggested_procedure: string;
  registered_by: string;
  registered_by_name: string;
  registered_at: Date;
  review_due_at: Date | null;
  review_due_note: string | null;
  /** The due date was counted through a year not yet announced (provisionalCalendar.ts). */
  review_due_provisional: boolean;
  reviewed_by: string | null;
  reviewed_by_name: string | null;
  reviewed_at: Date | null;
  close_reason: string | null;
  case_id: string | null;
}

const likePrefix = (prefix: string) => prefix.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function insertLead(db: Db, row: LeadRow): Promise<void> {
  await db('leads').insert({ ...row, household: JSON.stringify(row.household) });
}

export async function getLead(db: Db, id: string): Promise<LeadRow | undefined> {
  return db<LeadRow>('leads').where({ id }).first();
}

/** The lead row, locked: a close racing a convert serialises, the second sees the first's result. */
export async function lockLead(db: Db, id: string): Promise<LeadRow | undefined> {
  return db<LeadRow>('leads').where({ id }).forNoKeyUpdate().first();
}

export async function reviewLead(
  db: Db,
  id: string,
  r: { status: 'converted' | 'closed'; reviewedBy: string; reviewedByName: string; at: Date; closeReason?: string; caseId?: string },
): Promise<void> {
  await db('leads').where({ id, status: 'open' }).update({
    status: r.status,
    reviewed_by: r.reviewedBy,
    reviewed_by_name: r.reviewedByName,
    reviewed_at: r.at,
    close_reason: r.closeReason ?? null,
    case_id: r.caseId ?? null,
  });
}

export interface LeadFilter {
  regionPrefix: string;
  status?: LeadStatus;
  urgency?: LeadUrgency;
  /** Open leads whose review is past due at this instant. */
  overdueAt?: Date;
  /** Only this grid worker's own leads. */
  registeredBy?: string;
}

function filtered(db: Db, f: LeadFilter) {
  const q = db('leads').where('region_code', 'like', `${likePrefix(f.regionPrefix)}%`);
  if (f.status) q.andWhere('status', f.status);
  if (f.urgency) q.andWhere('urgency', f.urgency);
  if (f.overdueAt) q.andWhere('status', 'open').andWhere('review_due_at', '<=', f.overdueAt);
  if (f.registeredBy) q.andWhere('registered_by', f.registeredBy);
  return q;
}

/** Newest first; counts stop at `cap` + 1 so their cost does not grow with the table. */
export async function listLeads(db: Db, f: LeadFilter, page: { limit: number; offset: number }, cap: number): Promise<{ rows: LeadRow[]; total: number }> {
  const rows = await filtered(db, f).orderBy([{ column: 'registered_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(page.limit).offset(page.offset).select('*');
  const counted = await db.from(filtered(db, f).select('id').limit(cap + 1).as('capped')).count<{ n: string }[]>({ n: '*' });
  return { rows, total: Number(counted[0].n) };
}

export interface LeadCounts {
  open: number;
  overdue: number;
  converted: number;
  closed: number;
}

/** The board's block: live counts of the region's leads; overdue = open and past the review due date. */
export async function leadCounts(db: Db, regionPrefix: string, now: Date): Promise<LeadCounts> {
  const { rows } = await db.raw(
    `select
       count(*) filter (where status = 'open') as open,
       count(*) filter (where status = 'open' and review_due_at <= ?) as overdue,
       count(*) filter (where status = 'converted') as converted,
       count(*) filter (where status = 'closed') as closed
     from leads where region_code like ?`,
    [now, `${likePrefix(regionPrefix)}%`],
  );
  const r = rows[0];
  return { open: Number(r.open), overdue: Number(r.overdue), converted: Number(r.converted), closed: Number(r.closed) };
}

export interface LeadMonthCounts {
  registered: number;
  converted: number;
  closed: number;
  /** Reviews that fell due in the month and were not done by their due date. */
  overdue: number;
}

/**
 * The 月报告's block over [from, asOf] (the month in China time, up to now while it runs):
 * leads registered; converted and closed (reviewed in the month); overdue — reviews that fell due
 * in the month and were not done by their due date.
 */
export async function leadMonthCounts(db: Db, regionPrefix: string, from: Date, asOf: Date): Promise<LeadMonthCounts> {
  const region = `${likePrefix(regionPrefix)}%`;
  const one = async (sql: string, bindings: Array<Date | string>) => Number((await db.raw(sql, bindings)).rows[0].n);
  const registered = await one(`select count(*) as n from leads where registered_at >= ? and registered_at <= ? and region_code like ?`, [from, asOf, region]);
  const { rows } = await db.raw(
    `select count(*) filter (where status = 'converted') as converted, count(*) filter (where status = 'closed') as closed
     from leads where reviewed_at >= ? and reviewed_at <= ? and region_code like ?`,
    [from, asOf, region],
  );
  const overdue = await one(
    `select count(*) as n from leads where review_due_at >= ? and review_due_at < ? and region_code like ?
       and (reviewed_at is null or reviewed_at > review_due_at)`,
    [from, asOf, region],
  );
  return { registered, converted: Number(rows[0].converted), closed: Number(rows[0].closed), overdue };
}

/**
 * Open leads of a region (prefix; 'CN' for all) whose review due date may have used `year`'s days:
 * provisional, waiting for the year, or falling in it — locked, as a review may race the recompute.
 */
export async function openLeadsTouchingYear(db: Db, q: { regionCode: string; year: number }): Promise<LeadRow[]> {
  const from = new Date(Date.parse(`${q.year}-01-01T00:00:00+08:00`));
  return db<LeadRow>('leads')
    .where('status', 'open')
    .modify((b) => {
      if (q.regionCode !== 'CN') b.whereRaw(`region_code like ? || '%'`, [likePrefix(q.regionCode)]);
    })
    .where((w) => w.where('review_due_provisional', true).orWhere('review_due_note', 'like', 'CALENDAR_YEAR_MISSING%').orWhere('review_due_at', '>=', from))
    .orderBy('id')
    .forNoKeyUpdate();
}

export async function setLeadDue(db: Db, id: string, due: { due: Date | null; note: string | null; provisional: boolean }): Promise<void> {
  await db('leads').where({ id }).update({ review_due_at: due.due, review_due_note: due.note, review_due_provisional: due.provisional });
}
