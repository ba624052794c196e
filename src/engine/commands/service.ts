import { createHash } from 'node:crypto';
import type { ProcedureDefinition, TaskMeta } from '../../../workflows/index.ts';
import type { Db } from '../../db/connection.ts';
import * as cases from '../../db/cases.ts';
import * as caseEvents from '../../db/caseEvents.ts';
import * as tasks from '../../db/tasks.ts';
import * as timers from '../../db/timers.ts';
import * as outbox from '../../db/outbox.ts';
import { effectiveSettings } from '../../db/regions.ts';
import { ratingInvitationNotice } from '../../notifications/triggers.ts';
import { mayWork, SYSTEM_ACTOR, type Actor } from '../authorization.ts';
import { activeLeaves, resolve, type ActiveLeaf } from '../chart.ts';
import { escalationTimers, openingTask } from '../deadlines.ts';
import { DomainError, fieldIssues } from '../errors.ts';
import { isDecided } from '../decided.ts';
import { appendCaseNote } from '../caseNotes.ts';
import { trackingCodeMatches } from '../references.ts';
import { BAD_LEVELS, SERVICE_OUTCOMES, type RatingRequest, type ServiceOutcome } from '../serviceEvents.ts';
import type { Engine } from '../engine.ts';
import { paymentCorrected } from '../../payments/correction.ts';

/**
 * 好差评 and 回访 (issue 9, docs/ratings.md). These tasks do not come from a chart state: their
 * `state_id` starts with `service.`, the engine's reconciliation (syncTasks) leaves them alone,
 * and they are completed here, not by sending an event to the chart. Every write takes the case
 * lock first and appends a hash-chained event (the state stays as it is), like any command.
 */

export const SERVICE_STATES = {
  /** 差评整改: opened by a 不满意 / 非常不满意 rating. */
  rectification: 'service.rectification',
  /** 整改回访: opened when the 整改 is recorded. */
  followUp: 'service.followUp',
  /** 抽样回访: a share of the decided cases not rated when the invitation goes out. */
  sample: 'service.sample',
  /** The invitation timer (3 days after the decision). */
  invite: 'service.invite',
} as const;

/** The supervisors' department: the county civil-affairs bureau, whose 督办 staff hold these tasks. */
export const SERVICE_DEPARTMENT = 'county-civil-affairs';
export const DEFAULTS = { rectificationWorkingDays: 15, followUpWorkingDays: 5, followUpSampleShare: 0.1, invitationDelayDays: 3 };
const SOURCE = '国办发〔2019〕51号';
const CITIZEN = '申请人（好差评）';

const NOT_FOUND = () => new DomainError('not_found', 'TRACKING_NOT_FOUND', '未查询到办件，请核对受理编号和查询码');


/**
 * Deterministic sample: the reference's SHA-256 read as a fraction of 2^32, below the share. The
 * same case is always in or out (a reference never changes; unlike a random id, it also makes a
 * test run repeat exactly).
 */
export function sampled(reference: string, share: number): boolean {
  return createHash('sha256').update(reference).digest().readUInt32BE(0) / 2 ** 32 < share;
}

const numberSetting = (settings: Record<string, unknown>, key: keyof typeof DEFAULTS) => {
  const v = settings[key];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : DEFAULTS[key];
};

/** Opens a service task with its deadline on the region's statutory calendar and its escalation timers. */
async function openServiceTask(engine: Engine, trx: Db, def: ProcedureDefinition, row: cases.CaseRow, stateId: string, title: string, action: ServiceOutcome, days: number, now: Date) {
  const meta: TaskMeta = { title, department: SERVICE_DEPARTMENT, role: 'supervisor', actions: [action], timeLimit: { days, unit: 'WD', source: SOURCE } };
  const calendar = await engine.calendars.forRegion(trx, row.region_code);
  const task = openingTask(def, row, stateId, meta, calendar, now);
  await tasks.insertTasks(trx, [task]);
  await timers.insertTimers(trx, escalationTimers(task, meta, now));
  return task;
}

/**
 * The citizen rates one stage of their case, authenticated like GET /api/track (an unknown
 * reference and a wrong code give the same 404). Once per stage; the decision only once decided.
 * A 差评 opens a 差评整改 task for the region's supervisors.
 */
export async function rateCase(engine: Engine, trx: Db, reference: string, input: RatingRequest) {
  const found = reference.length <= 64 && input.code.length <= 64 ? await cases.getCaseByReference(trx, reference) : undefined;
  const matches = trackingCodeMatches(reference, input.code, found?.tracking_code_hash ?? '0'.repeat(64));
  if (!found || !matches) throw NOT_FOUND();
  const row = (await cases.lockCase(trx, found.id))!;
  const def = engine.registry.pinned(row.procedure_id, row.definition_version);
  const now = engine.clock();
  const rated = await ratedStages(trx, row.id);
  if (rated.has(input.stage)) {
    throw new DomainError('conflict', 'ALREADY_RATED', input.stage === 'decision' ? '您已评价过办理结果，每个环节只能评价一次' : '您已评价过受理环节，每个环节只能评价一次');
  }
  if (input.stage === 'decision' && !isDecided(activeLeaves(resolve(def, row.snapshot)), row.status === 'done')) {
    throw new DomainError('conflict', 'NOT_YET_DECIDED', '办件尚未办结，办结后才能评价办理结果');
  }
  const payload = { stage: input.stage, channel: input.channel, level: input.level, indicators: input.indicators, ...(input.comment ? { comment: input.comment } : {}) };
  await appendCaseNote(trx, row, 'CASE_RATED', payload, { id: null, name: CITIZEN }, now);
  let rectificationDueAt: string | null = null;
  if (BAD_LEVELS.includes(input.level)) {
    const days = numberSetting(await effectiveSettings(trx, row.region_code), 'rectificationWorkingDays');
    const task = await openServiceTask(engine, trx, def, row, SERVICE_STATES.rectification, '差评整改', 'RECTIFICATION_DONE', days, now);
    rectificationDueAt = task.due_at ? task.due_at.toISOString() : null;
  }
  return { reference: row.reference, stage: input.stage, level: input.level, rectification: BAD_LEVELS.includes(input.level), rectificationDueAt };
}

/** The stages already rated (CASE_RATED events of the case). */
export async function ratedStages(db: Db, caseId: string): Promise<Set<string>> {
  const rows = await caseEvents.eventsOfType(db, caseId, ['CASE_RATED']);
  return new Set(rows.map((r) => String(r.payload.stage)));
}

/**
 * Called by the engine after a transition, under the case lock: when the case has just become
 * decided, schedules the rating invitation (3 days later).
 */
/** Whether a transition from `before` to `after` decides the case, so afterTransition has work to do. */
export function decidesNow(before: { leaves: ActiveLeaf[]; done: boolean }, after: { leaves: ActiveLeaf[]; done: boolean }): boolean {
  return !isDecided(before.leaves, before.done) && isDecided(after.leaves, after.done);
}

export async function afterTransition(trx: Db, caseId: string, regionCode: string, before: { leaves: ActiveLeaf[]; done: boolean }, after: { leaves: ActiveLeaf[]; done: boolean }, now: Date) {
  if (!decidesNow(before, after)) return;
  const settings = await effectiveSettings(trx, regionCode);
  // A case decided a second time (a late 转办 reopened work) may get a second timer: firing sends
  // the invitation only if none was sent (fireInvitation), so the citizen gets one.
  if (!(await caseEvents.eventsOfType(trx, caseId, ['RATING_INVITED'])).length) {
    const due = new Date(now.getTime() + numberSetting(settings, 'invitationDelayDays') * 86_400_000);
    await timers.insertTimers(trx, [{ case_id: caseId, task_id: null, state_id: SERVICE_STATES.invite, kind: 'invite', event_type: 'RATING_INVITED', due_at: due, created_at: now }]);
  }
}

/**
 * Fires the invitation timer (the case is locked by the caller): once, and not for a case whose
 * result is rated. A sampled share of the cases invited also gets a 抽样回访 task: 回访 reaches
 * citizens who did not rate.
 */
export async function fireInvitation(engine: Engine, trx: Db, def: ProcedureDefinition, row: cases.CaseRow, timer: timers.TimerRow, now: Date): Promise<'fired' | 'moot'> {
  const done = await caseEvents.eventsOfType(trx, row.id, ['RATING_INVITED']);
  if (done.length || (await ratedStages(trx, row.id)).has('decision')) {
    await timers.finishTimer(trx, timer.id, 'cancelled', now);
    return 'moot';
  }
  await appendCaseNote(trx, row, 'RATING_INVITED', { timerId: timer.id }, SYSTEM_ACTOR, now);
  await outbox.insertNotice(trx, row.id, ratingInvitationNotice(def, row.reference), now);
  const settings = await effectiveSettings(trx, row.region_code);
  if (sampled(row.reference, numberSetting(settings, 'followUpSampleShare'))) {
    await openServiceTask(engine, trx, def, row, SERVICE_STATES.sample, '抽样回访', 'FOLLOW_UP_DONE', numberSetting(settings, 'followUpWorkingDays'), now);
  }
  await timers.finishTimer(trx, timer.id, 'fired', now);
  return 'fired';
}

/**
 * Completes a service task: 整改 (RECTIFICATION_DONE) closes the 差评整改 task and opens the
 * 整改回访; 回访 (FOLLOW_UP_DONE) closes a 回访 task. The caller checked visibility.
 */
export async function completeServiceTask(engine: Engine, trx: Db, actor: Actor, task: tasks.TaskRow, command: { outcome: string; data?: unknown; expectedVersion?: number }) {
  const row = (await cases.lockCase(trx, task.case_id))!;
  const fresh = (await tasks.getTask(trx, task.id))!;
  if (command.expectedVersion !== undefined && command.expectedVersion !== row.version) {
    throw new DomainError('conflict', 'VERSION_CONFLICT', '办件已被他人更新，请刷新后重试', { expectedVersion: command.expectedVersion, currentVersion: row.version });
  }
  if (!tasks.LIVE_STATUSES.includes(fresh.status)) throw new DomainError('conflict', 'TASK_NOT_OPEN', '该任务已办结或不能执行此操作');
  if (!mayWork(actor, fresh)) throw new DomainError('forbidden', 'NOT_YOUR_DEPARTMENT', '该环节不属于您所在部门或岗位办理');
  if (fresh.status === 'claimed' && fresh.assignee_id !== actor.id) throw new DomainError('conflict', 'TASK_CLAIMED_BY_OTHER', '该任务已由他人认领');
  const outcome = command.outcome as ServiceOutcome;
  const parsed = SERVICE_OUTCOMES[outcome].schema.safeParse(command.data ?? {});
  if (!parsed.success) throw new DomainError('invalid', 'INVALID_EVENT_DATA', '办理信息有误，请按提示修改', fieldIssues(parsed.error.issues));
  const def = engine.registry.pinned(row.procedure_id, row.definition_version);
  const now = engine.clock();
  // A corrected bank card is sealed on the case; the event records only its last digits.
  const data = outcome === 'PAYMENT_CORRECTED' ? await paymentCorrected(engine, trx, row, fresh, parsed.data as { bankCard: string; note: string }, now) : parsed.data;
  await appendCaseNote(trx, row, outcome, { ...data, taskId: fresh.id }, actor, now);
  await tasks.closeTask(trx, fresh.id, { status: 'completed', closedAt: now, closedBy: actor.id, outcome });
  await timers.cancelTaskTimers(trx, [fresh.id]);
  if (outcome === 'RECTIFICATION_DONE') {
    const days = numberSetting(await effectiveSettings(trx, row.region_code), 'followUpWorkingDays');
    await openServiceTask(engine, trx, def, row, SERVICE_STATES.followUp, '整改回访', 'FOLLOW_UP_DONE', days, now);
  }
  return row.id;
}
