import { departmentName, type ProcedureDefinition } from '../../../workflows/index.ts';
import {
  DEFAULT_REMEDY,
  SUPPLEMENT_CLOCK_STOPPED,
  SUPPLEMENT_EXPIRY,
  SUPPLEMENT_INSTRUCTION,
  SUPPLEMENT_LEGAL_BASIS,
  WRITTEN_NOTICE_LEGAL_BASIS,
} from '../../../workflows/shared/legalTexts.ts';
import type { Db } from '../../db/connection.ts';
import * as cases from '../../db/cases.ts';
import * as caseEvents from '../../db/caseEvents.ts';
import { getRegion } from '../../db/regions.ts';
import * as tasks from '../../db/tasks.ts';
import { coversRegion, maySeeCase, type Actor } from '../authorization.ts';
import { DomainError, notFound } from '../errors.ts';
import { maskIdNumber } from '../masking.ts';
import { chineseDate, deadlineText } from '../views.ts';
import type { ReadContext } from './context.ts';

/**
 * The window's written documents as data: the 一次性告知书 a REQUEST_SUPPLEMENT issues and the
 * 不予受理通知书 a REJECT_APPLICATION issues. What the applicant is handed — the reference, their
 * name, every missing material, the deadline, the legal basis, the remedies — comes from the
 * event log, the supplement task and the procedure, so a reprint says what was decided then.
 *
 * Who: clerks (the window issues them) and supervisors/admins, each only where they may see the
 * case (need to know: src/engine/authorization.ts); anyone else gets 404, as if it did not exist.
 */

export type NoticeKind = 'supplement' | 'rejection';

const EVENT_OF: Record<NoticeKind, string> = { supplement: 'REQUEST_SUPPLEMENT', rejection: 'REJECT_APPLICATION' };
const TITLE: Record<NoticeKind, string> = { supplement: '一次性告知书', rejection: '不予受理通知书' };
const NOT_ISSUED: Record<NoticeKind, string> = {
  supplement: '该办件未发出过补正告知，没有一次性告知书',
  rejection: '该办件未作出不予受理决定，没有不予受理通知书',
};

/** The case, its events and tasks as the actor may see them, and the latest event of the kind. */
async function load(ctx: ReadContext, db: Db, actor: Actor, caseId: string, kind: NoticeKind) {
  const row = await cases.getCase(db, caseId);
  if (!row || !coversRegion(actor, row.region_code)) throw notFound();
  const def = ctx.registry.pinned(row.procedure_id, row.definition_version);
  // Sequential: `db` may be a transaction, which is one connection.
  const allTasks = await tasks.tasksOfCase(db, caseId);
  if (!maySeeCase(actor, def, row.region_code, allTasks.map((t) => t.department))) throw notFound();
  const events = await caseEvents.listEvents(db, caseId);
  const event = events.filter((e) => e.type === EVENT_OF[kind]).at(-1);
  if (!event) throw new DomainError('not_found', 'NOTICE_NOT_ISSUED', NOT_ISSUED[kind]);
  const region = await getRegion(db, row.region_code);
  return { row, def, allTasks, events, event, region };
}

function common(ctx: ReadContext, loaded: Awaited<ReturnType<typeof load>>, kind: NoticeKind) {
  const { row, def, event, region } = loaded;
  const applicant = ctx.cipher.open(row.applicant) as { name: string; idNumber: string };
  // The window that issued it: the department of the intake step, in the case's region.
  const department = loaded.allTasks.find((t) => t.actions.includes(EVENT_OF[kind]))?.department ?? def.acceptingDepartments[0];
  const regionName = region?.name ?? row.region_code;
  return {
    kind,
    title: TITLE[kind],
    caseId: row.id,
    reference: row.reference,
    procedureId: def.id,
    procedureName: def.name,
    issuer: {
      name: `${regionName}${departmentName(department)}`,
      department,
      departmentName: departmentName(department),
      regionCode: row.region_code,
      regionName,
    },
    clerk: event.actor_name ?? '',
    // The window is entitled to the applicant's name (the document is addressed to them); the ID number stays masked.
    applicant: { name: applicant.name, idNumber: maskIdNumber(applicant.idNumber) },
    submittedAt: row.created_at.toISOString(),
    submittedOn: chineseDate(row.created_at),
    issuedAt: event.occurred_at.toISOString(),
    issuedOn: chineseDate(event.occurred_at),
    eventSeq: event.seq,
  };
}

const materialName = (def: ProcedureDefinition, code: string) => def.materials.find((m) => m.code === code)?.name ?? code;

/**
 * The end of the 补正 period as printed after "补正期限：" — worded like every other deadline
 * ("2026年4月1日前"); without a date (its year's holidays not published: the period ends on the
 * next working day) "待定（2100年节假日安排尚未公布）", never a code; on a provisional calendar
 * "预计 2027年1月11日前（以国务院公布的节假日安排为准）".
 */
function supplementDeadline(task: tasks.TaskRow | undefined): string {
  const text = task ? deadlineText(task.due_at, task.deadline_note, task.deadline_provisional) : null;
  if (!text) return '待定';
  return text.replace(/^预计完成日期待定/, '待定');
}

/** 一次性告知书: the latest REQUEST_SUPPLEMENT of the case. */
export async function supplementNotice(ctx: ReadContext, db: Db, actor: Actor, caseId: string) {
  const loaded = await load(ctx, db, actor, caseId, 'supplement');
  const { def, event, events, allTasks } = loaded;
  const payload = event.payload as { missingMaterials?: string[]; note?: string };
  // The supplement task the event opened (same transaction, same instant) carries the period's end.
  const task = allTasks.find((t) => t.actions.includes('SUPPLEMENT_RECEIVED') && t.opened_at.getTime() === event.occurred_at.getTime());
  const live = task ? tasks.LIVE_STATUSES.includes(task.status) : false;
  const after = events.filter((e) => e.seq > event.seq).map((e) => e.type);
  const status: 'awaiting' | 'received' | 'expired' | 'closed' = live ? 'awaiting' : after.includes('SUPPLEMENT_RECEIVED') ? 'received' : after.includes('SUPPLEMENT_EXPIRED') ? 'expired' : 'closed';
  return {
    ...common(ctx, loaded, 'supplement'),
    kind: 'supplement' as const,
    round: events.filter((e) => e.type === 'REQUEST_SUPPLEMENT' && e.seq <= event.seq).length,
    missingMaterials: (payload.missingMaterials ?? []).map((code) => ({
      code,
      name: materialName(def, code),
      required: def.materials.find((m) => m.code === code)?.required ?? true,
    })),
    note: payload.note ?? null,
    deadline: {
      dueAt: task?.due_at ? task.due_at.toISOString() : null,
      text: supplementDeadline(task),
      timeLimit: (task?.time_limit as { days: number; unit: 'WD' | 'CD'; source: string } | null) ?? null,
    },
    status,
    instruction: SUPPLEMENT_INSTRUCTION,
    clockStopped: SUPPLEMENT_CLOCK_STOPPED,
    onExpiry: SUPPLEMENT_EXPIRY,
    legalBasis: [SUPPLEMENT_LEGAL_BASIS],
    procedureBasis: def.legalBasis,
  };
}

/** 不予受理通知书: the REJECT_APPLICATION of the case. */
export async function rejectionNotice(ctx: ReadContext, db: Db, actor: Actor, caseId: string) {
  const loaded = await load(ctx, db, actor, caseId, 'rejection');
  const payload = loaded.event.payload as { reason?: string };
  return {
    ...common(ctx, loaded, 'rejection'),
    kind: 'rejection' as const,
    reason: payload.reason ?? '',
    legalBasis: [WRITTEN_NOTICE_LEGAL_BASIS],
    procedureBasis: loaded.def.legalBasis,
    remedy: DEFAULT_REMEDY,
  };
}
