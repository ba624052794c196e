import { randomUUID } from 'node:crypto';
import type { Db } from './connection.ts';

export type NoticeStatus = 'pending' | 'sent' | 'dead' | 'discarded';

export interface NoticeRow {
  id: string;
  outbox_id: string;
  /** The case, or null for a notice of an online application (application_id). */
  case_id: string | null;
  application_id: string | null;
  region_code: string;
  kind: string;
  idempotency_key: string;
  payload: Record<string, unknown>;
  status: NoticeStatus;
  attempts: number;
  next_attempt_at: Date;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  channel: string | null;
  provider_message_id: string | null;
  segments: number | null;
  sent_at: Date | null;
  created_at: Date;
  updated_at: Date;
  resolved_by: string | null;
  resolved_at: Date | null;
  resolution: string | null;
}

const asRow = (r: any): NoticeRow => ({ ...r, id: String(r.id), outbox_id: String(r.outbox_id), attempts: Number(r.attempts) });

/**
 * Takes up to `limit` unprocessed `notice.*` outbox rows into `notices` and marks them processed,
 * in the caller's transaction. SKIP LOCKED lets dispatchers take side by side; the unique
 * outbox_id makes a row taken twice (an outcome-unknown commit retried) add nothing.
 */
export async function takeNoticeOutbox(trx: Db, now: Date, limit: number): Promise<number> {
  const { rows } = await trx.raw(
    `select o.id, o.case_id, o.application_id, o.kind, o.payload, o.created_at, coalesce(c.region_code, a.region_code) as region_code
     from outbox o left join cases c on c.id = o.case_id left join online_applications a on a.id = o.application_id
     where o.id in (
       select id from outbox where processed_at is null and kind like 'notice.%' and created_at <= ?
       order by created_at, id limit ? for update skip locked)
     order by o.id`,
    [now, limit],
  );
  if (!rows.length) return 0;
  await trx('notices')
    .insert(
      rows.map((r: any) => ({
        outbox_id: r.id,
        case_id: r.case_id,
        application_id: r.application_id,
        region_code: r.region_code,
        kind: String(r.kind).slice('notice.'.length),
        idempotency_key: `ow-${randomUUID()}`,
        payload: typeof r.payload === 'string' ? r.payload : JSON.stringify(r.payload),
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        created_at: r.created_at,
        updated_at: now,
      })),
    )
    .onConflict('outbox_id')
    .ignore();
  await trx('outbox').whereIn('id', rows.map((r: any) => r.id)).update({ processed_at: now });
  return rows.length;
}

/**
 * Leases up to `limit` due notices to `workerId` until `leaseUntil`, counting the attempt. A
 * lease that expires (its dispatcher died between sending and recording) makes the notice
 * claimable again; the resend carries the same idempotency key.
 */
export async function claimDueNotices(db: Db, workerId: string, now: Date, leaseUntil: Date, limit: number): Promise<NoticeRow[]> {
  const { rows } = await db.raw(
    `update notices set locked_by = ?, locked_until = ?, updated_at = ?
     where id in (
       select id from notices
       where status = 'pending' and next_attempt_at <= ? and (locked_until is null or locked_until < ?)
       order by next_attempt_at
       limit ?
       for update skip locked)
     returning *`,
    [workerId, leaseUntil, now, now, now, limit],
  );
  return (rows as any[]).map(asRow).sort((a, b) => Number(a.id) - Number(b.id));
}

/**
 * Just before sending: renews this dispatcher's lease and counts the attempt, only if the notice
 * is still pending and still ours. False → someone else has it (or it was resolved): do not send.
 */
export async function startAttempt(db: Db, id: string, workerId: string, now: Date, leaseUntil: Date): Promise<number | null> {
  const rows = await db('notices')
    .where({ id, locked_by: workerId, status: 'pending' })
    .andWhere('locked_until', '>', now)
    .update({ locked_until: leaseUntil, attempts: db.raw('attempts + 1'), updated_at: now })
    .returning('attempts');
  return rows.length ? Number(rows[0].attempts) : null;
}

/** A confirmed send: never sent again, whoever holds the lease now. */
export async function markSent(db: Db, id: string, r: { channel: string; providerMessageId: string | null; segments: number; at: Date }): Promise<void> {
  await db('notices')
    .where({ id, status: 'pending' })
    .update({ status: 'sent', sent_at: r.at, channel: r.channel, provider_message_id: r.providerMessageId, segments: r.segments, locked_until: null, last_error: null, updated_at: r.at });
}

/** A failed attempt: retried from `retryAt`, or dead-lettered. */
export async function recordFailure(db: Db, id: string, workerId: string, r: { error: string; channel: string; retryAt: Date; dead: boolean; at: Date }): Promise<void> {
  await db('notices')
    .where({ id, locked_by: workerId, status: 'pending' })
    .update({
      status: r.dead ? 'dead' : 'pending',
      last_error: r.error.slice(0, 2000),
      channel: r.channel,
      next_attempt_at: r.retryAt,
      locked_until: null,
      updated_at: r.at,
    });
}

/** Hands leased notices back unsent (the dispatcher is stopping). */
export async function releaseNotices(db: Db, ids: string[], workerId: string): Promise<void> {
  if (ids.length) await db('notices').whereIn('id', ids).andWhere({ locked_by: workerId, status: 'pending' }).update({ locked_until: null });
}

/** The phone numbers are read where they live, at delivery: the cases' applicant records. */
export async function applicantsOf(db: Db, caseIds: string[]): Promise<Map<string, unknown>> {
  if (!caseIds.length) return new Map();
  const rows = await db('cases').whereIn('id', [...new Set(caseIds)]).select('id', 'applicant');
  return new Map(rows.map((r: any) => [r.id, r.applicant]));
}

/** The same for notices of online applications (the phone code, a return): their applicant records. */
export async function applicationApplicantsOf(db: Db, applicationIds: string[]): Promise<Map<string, unknown>> {
  if (!applicationIds.length) return new Map();
  const rows = await db('online_applications').whereIn('id', [...new Set(applicationIds)]).select('id', 'applicant');
  return new Map(rows.map((r: any) => [r.id, r.applicant]));
}

export interface NoticeFilter {
  regionPrefix: string;
  status?: NoticeStatus;
  kind?: string;
  caseId?: string;
  /** Keyset: rows with a smaller id (newest first). */
  beforeId?: string;
}

/** Above every id: the first page of a newest-first keyset starts here. */
const TOP = '9223372036854775807';

/**
 * Every list and count reads newest first from a keyset position down an index (by status, kind,
 * case or id), so a page costs its rows and a count at most its cap, however many notices exist.
 */
function filtered(db: Db, f: NoticeFilter) {
  const q = db('notices').where('id', '<', f.beforeId ?? TOP).andWhere('region_code', 'like', `${f.regionPrefix}%`);
  if (f.status) q.andWhere('status', f.status);
  if (f.kind) q.andWhere('kind', f.kind);
  if (f.caseId) q.andWhere('case_id', f.caseId);
  return q;
}

export async function listNotices(db: Db, f: NoticeFilter, limit: number): Promise<NoticeRow[]> {
  const q = filtered(db, f);
  return (await q.orderBy('id', 'desc').limit(limit)).map(asRow);
}

/** Matching notices, counting at most `cap`. */
export async function countNotices(db: Db, f: NoticeFilter, cap: number): Promise<number> {
  const inner = filtered(db, f).select(db.raw('1')).limit(cap);
  const [row] = (await db.count({ n: '*' }).from(inner.as('t'))) as Array<{ n: string | number }>;
  return Number(row.n);
}

export async function getNotice(db: Db, id: string): Promise<NoticeRow | undefined> {
  const r = await db('notices').where({ id }).first();
  return r ? asRow(r) : undefined;
}

export async function lockNotice(db: Db, id: string): Promise<NoticeRow | undefined> {
  const r = await db('notices').where({ id }).forUpdate().first();
  return r ? asRow(r) : undefined;
}

/** A dead letter goes back to the queue, with a fresh count of attempts. */
export async function requeueNotice(db: Db, id: string, by: string, at: Date, resolution: string): Promise<void> {
  await db('notices')
    .where({ id, status: 'dead' })
    .update({ status: 'pending', attempts: 0, next_attempt_at: at, locked_by: null, locked_until: null, resolved_by: by, resolved_at: at, resolution, updated_at: at });
}

export async function discardNotice(db: Db, id: string, by: string, at: Date, resolution: string): Promise<void> {
  await db('notices').where({ id, status: 'dead' }).update({ status: 'discarded', resolved_by: by, resolved_at: at, resolution, updated_at: at });
}

// The development sink's record of what it "sent".

export interface SinkMessageRow {
  id: string;
  idempotency_key: string;
  notice_id: string;
  case_id: string | null;
  region_code: string;
  recipient_masked: string;
  body: string;
  segments: number;
  created_at: Date;
}

/** Delivers a key once, as a gateway does: returns the message id, the first one for a repeated key. */
export async function insertSinkMessage(db: Db, row: Omit<SinkMessageRow, 'id'>): Promise<string> {
  const inserted = await db('notice_sink_messages').insert(row).onConflict('idempotency_key').ignore().returning('id');
  if (inserted.length) return String(inserted[0].id);
  const prior = await db('notice_sink_messages').where({ idempotency_key: row.idempotency_key }).first('id');
  return String(prior.id);
}

export async function listSinkMessages(db: Db, f: { regionPrefix: string; caseId?: string; beforeId?: string }, limit: number): Promise<SinkMessageRow[]> {
  const q = db('notice_sink_messages').where('id', '<', f.beforeId ?? TOP).andWhere('region_code', 'like', `${f.regionPrefix}%`);
  if (f.caseId) q.andWhere('case_id', f.caseId);
  return (await q.orderBy('id', 'desc').limit(limit)).map((r: any) => ({ ...r, id: String(r.id), notice_id: String(r.notice_id) }));
}
