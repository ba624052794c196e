import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { labelledEnum, residentId, FEN } from '../../../workflows/shared/schemas.ts';
import type { Db } from '../../db/connection.ts';
import * as leads from '../../db/leads.ts';
import { coversRegion, type Actor } from '../authorization.ts';
import type { WorkCalendar } from '../calendar.ts';
import { dueOrNote } from '../deadlines.ts';
import { DomainError, notFound } from '../errors.ts';
import type { Engine } from '../engine.ts';
import { maskIdNumber, maskName, maskPhone } from '../masking.ts';
import { COUNT_CAP } from '../queries/inbox.ts';

/**
 * 主动发现 (issue 9, docs/leads.md). A grid worker (网格员) registers a lead: a household that may
 * need assistance. The township's social-assistance office (township-civil-affairs reviewers of
 * a region covering the lead) reviews it by its due date — urgent 1 working day, normal 5
 * (local: the domain reference sets no limit) — and closes it with a reason or converts it: a
 * 临时救助 case is opened on the household's behalf through the engine's own openCase, and an
 * urgent lead is accepted at once on the urgent path (ACCEPT_URGENT → 先行救助), linking lead ↔
 * case (leads.case_id; the CASE_OPENED payload's leadId).
 */

export const LEAD_REVIEW_LIMITS = {
  urgent: { days: 1, unit: 'WD', source: 'local' },
  normal: { days: 5, unit: 'WD', source: 'local' },
} as const;

export const SUGGESTED_PROCEDURES = { 'temporary-assistance': '临时救助', 'social-assistance': '最低生活保障', 'destitute-support': '特困人员救助供养' } as const;
export const URGENCY = { normal: '一般', urgent: '紧急' } as const;
/** The procedure a lead converts into (the brief of issue 9: 临时救助, urgent path when urgent). */
export const CONVERTS_TO = 'temporary-assistance';
const REVIEWING_DEPARTMENT = 'township-civil-affairs';

export const leadInputSchema = z.strictObject({
  household: z.strictObject({
    headName: z.string().trim().min(1, '请填写户主姓名').max(50).meta({ title: '户主姓名' }),
    headIdNumber: residentId.meta({ title: '户主身份证号码' }),
    phone: z.string().regex(/^1\d{10}$/, '手机号码应为11位数字').meta({ title: '联系电话' }),
    address: z.string().trim().min(2, '请填写住址').max(200).meta({ title: '住址' }),
    size: z.number().int().min(1, '家庭人口至少1人').max(30).meta({ title: '家庭人口' }),
  }),
  situation: z.string().trim().min(5, '请描述家庭困难情况（至少5个字）').max(2000).meta({ title: '困难情况' }),
  suggestedProcedure: labelledEnum('建议救助事项', SUGGESTED_PROCEDURES).default('temporary-assistance'),
  urgency: labelledEnum('紧急程度', URGENCY),
});
export type LeadInput = z.infer<typeof leadInputSchema>;

export const closeLeadSchema = z.strictObject({
  reason: z.string().trim().min(2, '请说明不予转办的理由').max(500).meta({ title: '关闭理由' }),
});

export const convertLeadSchema = z.strictObject({
  hardship: labelledEnum('急难类型', { illness: '疾病', accident: '意外事故', disaster: '自然灾害', other: '其他' }, { message: '请选择急难类型' }),
  requestedAmountFen: z.number().int().min(0).max(100_000_000).meta({ title: '申请救助金额', description: FEN }),
  note: z.string().trim().max(1000).optional().meta({ title: '备注' }),
});

const isReviewer = (actor: Actor) => actor.roles.includes('reviewer') && actor.department === REVIEWING_DEPARTMENT;
const isOverseer = (actor: Actor) => actor.roles.includes('supervisor') || actor.roles.includes('admin');

/** Need to know: the grid worker who registered it, the township office and supervisors of its region. */
function maySee(actor: Actor, row: leads.LeadRow): boolean {
  if (!coversRegion(actor, row.region_code)) return false;
  if (actor.roles.includes('gridWorker') && row.registered_by === actor.id) return true;
  return isReviewer(actor) || isOverseer(actor);
}

function assertMayList(actor: Actor) {
  if (!actor.roles.includes('gridWorker') && !isReviewer(actor) && !isOverseer(actor)) {
    throw new DomainError('forbidden', 'NOT_PERMITTED', '只有网格员、乡镇（街道）社会救助经办机构和督办人员可以查看线索');
  }
}

/** What every caller gets: personal data masked (the conversion reads the sealed originals itself). */
export function leadView(engine: Engine, row: leads.LeadRow, now: Date) {
  const household = engine.cipher.open(row.household);
  return {
    id: row.id,
    regionCode: row.region_code,
    urgency: row.urgency,
    status: row.status,
    household: {
      headName: maskName(row.head_name),
      headIdNumber: maskIdNumber(String(household.idNumber)),
      phone: maskPhone(String(household.phone)),
      address: String(household.address),
      size: Number(household.size),
    },
    situation: row.situation,
    suggestedProcedure: row.suggested_procedure,
    registeredBy: row.registered_by_name,
    registeredAt: new Date(row.registered_at).toISOString(),
    reviewDueAt: row.review_due_at ? new Date(row.review_due_at).toISOString() : null,
    reviewDueNote: row.review_due_note,
    reviewDueProvisional: !!row.review_due_provisional,
    overdue: row.status === 'open' && !!row.review_due_at && new Date(row.review_due_at) <= now,
    reviewedBy: row.reviewed_by_name,
    reviewedAt: row.reviewed_at ? new Date(row.reviewed_at).toISOString() : null,
    closeReason: row.close_reason,
    caseId: row.case_id,
  };
}
export type LeadView = ReturnType<typeof leadView>;

export async function registerLead(engine: Engine, trx: Db, actor: Actor, input: LeadInput) {
  if (!actor.roles.includes('gridWorker') || !actor.id) throw new DomainError('forbidden', 'ROLE_REQUIRED', '只有网格员可以登记线索');
  const now = engine.clock();
  const calendar = await engine.calendars.forRegion(trx, actor.regionCode);
  const due = dueOrNote(calendar, now, LEAD_REVIEW_LIMITS[input.urgency]);
  const { headName, headIdNumber, phone, address, size } = input.household;
  const row: leads.LeadRow = {
    id: randomUUID(),
    region_code: actor.regionCode,
    urgency: input.urgency,
    status: 'open',
    head_name: headName,
    // The ID number is encrypted before it reaches the database, as on a case's applicant.
    household: engine.cipher.seal({ name: headName, idNumber: headIdNumber, phone, address, size }),
    situation: input.situation,
    suggested_procedure: input.suggestedProcedure,
    registered_by: actor.id,
    registered_by_name: actor.name,
    registered_at: now,
    review_due_at: due.due,
    review_due_note: due.note,
    review_due_provisional: due.provisional,
    reviewed_by: null,
    reviewed_by_name: null,
    reviewed_at: null,
    close_reason: null,
    case_id: null,
  };
  await leads.insertLead(trx, row);
  return leadView(engine, row, now);
}

export interface LeadListQuery {
  status?: leads.LeadStatus;
  urgency?: leads.LeadUrgency;
  overdue?: boolean;
  page: number;
  pageSize: number;
}

export async function listLeads(engine: Engine, db: Db, actor: Actor, q: LeadListQuery) {
  assertMayList(actor);
  const now = engine.clock();
  const own = !isReviewer(actor) && !isOverseer(actor);
  const { rows, total } = await leads.listLeads(
    db,
    { regionPrefix: actor.regionCode, status: q.status, urgency: q.urgency, overdueAt: q.overdue ? now : undefined, registeredBy: own ? actor.id! : undefined },
    { limit: q.pageSize, offset: (q.page - 1) * q.pageSize },
    COUNT_CAP,
  );
  return { items: rows.map((r) => leadView(engine, r, now)), total: Math.min(total, COUNT_CAP), totalCapped: total > COUNT_CAP, page: q.page, pageSize: q.pageSize };
}

export async function getLead(engine: Engine, db: Db, actor: Actor, id: string) {
  assertMayList(actor);
  const row = await leads.getLead(db, id);
  if (!row || !maySee(actor, row)) throw notFound('线索');
  const view = leadView(engine, row, engine.clock());
  const linked = row.case_id ? await db('cases').where({ id: row.case_id }).first('reference') : undefined;
  return { ...view, caseReference: linked?.reference ?? null };
}

/** The reviewer's lead, locked and still open; another region's lead does not exist for them. */
async function openLeadFor(trx: Db, actor: Actor, id: string): Promise<leads.LeadRow> {
  if (!isReviewer(actor)) throw new DomainError('forbidden', 'NOT_YOUR_DEPARTMENT', '线索由乡镇（街道）社会救助经办机构审核');
  const row = await leads.lockLead(trx, id);
  if (!row || !coversRegion(actor, row.region_code)) throw notFound('线索');
  if (row.status !== 'open') throw new DomainError('conflict', 'LEAD_NOT_OPEN', row.status === 'converted' ? '该线索已转为救助申请' : '该线索已关闭');
  return row;
}

export async function closeLead(engine: Engine, trx: Db, actor: Actor, id: string, input: z.infer<typeof closeLeadSchema>) {
  const row = await openLeadFor(trx, actor, id);
  const now = engine.clock();
  await leads.reviewLead(trx, row.id, { status: 'closed', reviewedBy: actor.id!, reviewedByName: actor.name, at: now, closeReason: input.reason });
  return getLead(engine, trx, actor, id);
}

/**
 * Opens the 临时救助 case on the household's behalf. The township acts for the window here (its
 * review of the lead takes the place of the window's intake): openCase and, for an urgent lead,
 * ACCEPT_URGENT run through the engine's ordinary path as the reviewer acting for the township
 * window of the lead's region, recorded under the reviewer's id and name with "（主动发现）". A
 * normal lead's case waits at the window's 受理 task like any application.
 */
export async function convertLead(engine: Engine, trx: Db, actor: Actor, id: string, input: z.infer<typeof convertLeadSchema>) {
  const row = await openLeadFor(trx, actor, id);
  const household = engine.cipher.open(row.household);
  const onBehalf: Actor = { id: actor.id, name: `${actor.name}（主动发现）`, regionCode: row.region_code, department: 'township-window', roles: ['clerk'] };
  const opened = await engine.openCase(
    trx,
    onBehalf,
    {
      procedureId: CONVERTS_TO,
      applicant: { name: household.name, idNumber: household.idNumber, phone: household.phone, address: household.address },
      application: {
        hardship: input.hardship,
        requestedAmountFen: input.requestedAmountFen,
        reason: `【主动发现】${row.situation}`.slice(0, 2000),
        submittedMaterials: [],
      },
    },
    { leadId: row.id },
  );
  if (row.urgency === 'urgent') {
    await engine.sendEvent(trx, onBehalf, opened.id, { type: 'ACCEPT_URGENT', data: input.note ? { note: input.note } : {}, expectedVersion: opened.version });
  }
  const now = engine.clock();
  await leads.reviewLead(trx, row.id, { status: 'converted', reviewedBy: actor.id!, reviewedByName: actor.name, at: now, caseId: opened.id });
  return { ...(await getLead(engine, trx, actor, id)), caseReference: opened.reference };
}

/**
 * After a calendar load (calendarRecompute.ts): every open lead whose review due date touched the
 * year is counted again from its registration on the region's fresh calendar. Leads have no event
 * log and no timers (overdue is read at request time), so the row is all there is to move.
 */
export async function recomputeLeadDues(engine: Engine, trx: Db, job: { region_code: string; year: number }): Promise<number> {
  let changed = 0;
  const calendars = new Map<string, WorkCalendar>();
  for (const row of await leads.openLeadsTouchingYear(trx, { regionCode: job.region_code, year: job.year })) {
    let calendar = calendars.get(row.region_code);
    if (!calendar) calendars.set(row.region_code, (calendar = await engine.calendars.fresh(trx, row.region_code)));
    const due = dueOrNote(calendar, new Date(row.registered_at), LEAD_REVIEW_LIMITS[row.urgency]);
    const before = row.review_due_at ? new Date(row.review_due_at).getTime() : null;
    if ((due.due?.getTime() ?? null) === before && due.note === row.review_due_note && due.provisional === !!row.review_due_provisional) continue;
    await leads.setLeadDue(trx, row.id, due);
    changed++;
  }
  return changed;
}
