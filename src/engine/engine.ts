import { randomUUID } from 'node:crypto';
import { applicantSchema, departmentName, type ProcedureDefinition } from '../../workflows/index.ts';
import type { Db } from '../db/connection.ts';
import { writeTogether } from '../db/batch.ts';
import type { Sql } from '../db/sql.ts';
import * as cases from '../db/cases.ts';
import * as caseEvents from '../db/caseEvents.ts';
import { closedPauses } from './calendarRecompute.ts';
import * as tasks from '../db/tasks.ts';
import * as payments from '../db/payments.ts';
import * as outbox from '../db/outbox.ts';
import { effectiveSettings } from '../db/regions.ts';
import { nextSequence } from '../db/referenceSequences.ts';
import { activeLeaves, initialSnapshot, knownEvents, resolve, restore, stageText, type ActiveLeaf, type PersistedSnapshot } from './chart.ts';
import { DomainError, fieldIssues, notFound, type FieldIssue } from './errors.ts';
import { PersonalDataCipher } from './personalData.ts';
import { withoutIncomes } from './masking.ts';
import { actionsFor, caseActions, isServiceTask, taskViewFor } from './views.ts';
import { acceptedNotice, paymentNotice, transitionNotices } from '../notifications/triggers.ts';
import { caseView } from './queries/caseView.ts';
import { inbox, type InboxQuery } from './queries/inbox.ts';
import { supervisionBoard, supervisionTasks, type SupervisionTasksQuery } from './queries/board.ts';
import { track } from './queries/tracking.ts';
import { chinaDate, formatReference, hashTrackingCode, newTrackingCode } from './references.ts';
import type { ProcedureRegistry } from './registry.ts';
import * as timers from '../db/timers.ts';
import { eventHash, verifyChain, type ChainedContent } from './audit.ts';
import { CalendarYearMissingError } from './calendar.ts';
import { CalendarService } from './calendars.ts';
import { ESCALATION_LEVEL, dueOrNote, escalationTimers, isHigherLevel, openingTask } from './deadlines.ts';
import * as service from './commands/service.ts';
import { appendCaseNote } from './caseNotes.ts';
import { isServiceOutcome } from './serviceEvents.ts';
import { SYSTEM_ACTOR, allowedEvents, coversRegion, decide, handlesPersonalData, maySeeCase, mayWork, type Actor, type Refusal } from './authorization.ts';

export { SYSTEM_ACTOR, coversRegion, type Actor } from './authorization.ts';

/** What a command returns: the case as it now stands, without its history. */
export interface TransitionResult {
  caseId: string;
  reference: string;
  version: number;
  status: cases.CaseStatus;
  stage: string;
  activeStates: Array<{ stateId: string; stage: string }>;
  facts: Record<string, unknown>;
  openTasks: ReturnType<typeof taskViewFor>[];
  allowedEvents: Array<{ type: string; label: string }>;
}

export interface EngineOptions {
  registry: ProcedureRegistry;
  /** Encrypts ID numbers and bank cards at rest. */
  cipher: PersonalDataCipher;
  calendars?: CalendarService;
  /** Injectable clock: tests move time, never sleep. */
  clock?: () => Date;
  /** Told of every transition once its transaction committed (metrics); never fails a command. */
  onTransition?: (t: TransitionNote) => void;
}

/** What an onTransition observer learns: no personal data, only what labels a metric. */
export interface TransitionNote {
  procedureId: string;
  event: string;
  caseId: string;
}

/**
 * Runs `fn` once `trx` and every transaction around it committed; nothing if any rolled back.
 * Outside a transaction, at once.
 */
function afterCommit(trx: Db, fn: () => void): void {
  const run = () => {
    try {
      fn();
    } catch {
      // an observer's failure is its own
    }
  };
  const pending: Promise<unknown>[] = [];
  for (let t = trx as any; t?.isTransaction; t = t.parentTransaction) if (t.executionPromise) pending.push(t.executionPromise);
  if (pending.length === 0) return run();
  Promise.all(pending).then(run, () => {});
}

export interface EventCommand {
  type: string;
  data?: unknown;
  /** The case version the sender saw; a stale one is refused. */
  expectedVersion?: number;
}

const REFUSALS: Record<Refusal, DomainError> = {
  NOT_YOUR_DEPARTMENT: new DomainError('forbidden', 'NOT_YOUR_DEPARTMENT', '该环节不属于您所在部门或岗位办理'),
  TASK_CLAIMED_BY_OTHER: new DomainError('conflict', 'TASK_CLAIMED_BY_OTHER', '该任务已由他人认领'),
  NOT_PERMITTED: new DomainError('forbidden', 'NOT_PERMITTED', '您无权执行该操作'),
};
const refuse = (r: Refusal) => new DomainError(REFUSALS[r].kind, REFUSALS[r].code, REFUSALS[r].message);

/**
 * Advances cases. Every method takes the caller's transaction and writes snapshot, event log,
 * tasks and effects through it, so a command is all-or-nothing. Every writer locks the case row
 * first: concurrent commands on one case serialise, and the loser sees the winner's result.
 */
export class Engine {
  readonly registry: ProcedureRegistry;
  readonly clock: () => Date;
  readonly calendars: CalendarService;
  readonly cipher: PersonalDataCipher;
  readonly onTransition: EngineOptions['onTransition'];

  constructor(options: EngineOptions) {
    this.cipher = options.cipher;
    this.onTransition = options.onTransition;
    this.registry = options.registry;
    this.calendars = options.calendars ?? new CalendarService();
    this.clock = options.clock ?? (() => new Date());
  }

  async openCase(
    trx: Db,
    actor: Actor,
    input: { procedureId: string; applicant: unknown; application: unknown },
    /**
     * Where the case came from, noted in CASE_OPENED's payload: an online application accepted at
     * 预审 (网上申请), or a 主动发现 lead a township opens on the household's behalf (commands/leads.ts).
     */
    origin?: { onlineApplicationId: string; materialsReceived: string[] } | { leadId: string },
  ): Promise<{ id: string; reference: string; trackingCode: string; version: number }> {
    if (!actor.roles.includes('clerk')) {
      throw new DomainError('forbidden', 'ROLE_REQUIRED', '只有窗口受理人员可以受理申请');
    }
    let def: ProcedureDefinition;
    try {
      def = this.registry.latest(input.procedureId);
    } catch {
      throw new DomainError('invalid', 'UNKNOWN_PROCEDURE', `未知的事项：${input.procedureId}`, [
        { path: 'procedureId', message: '未知的事项' },
      ]);
    }
    if (!def.acceptingDepartments.includes(actor.department)) {
      throw new DomainError('forbidden', 'NOT_ACCEPTING_DEPARTMENT', `本事项由${def.acceptingDepartments.map(departmentName).join('、')}受理`);
    }
    const applicant = applicantSchema.safeParse(input.applicant);
    const application = def.applicationSchema.safeParse(input.application ?? {});
    const issues: FieldIssue[] = [
      ...(applicant.success ? [] : prefixIssues('applicant', applicant.error.issues)),
      ...(application.success ? [] : prefixIssues('application', application.error.issues)),
    ];
    if (issues.length || !applicant.success || !application.success) {
      throw new DomainError('invalid', 'INVALID_APPLICATION', '申请信息有误，请按提示修改', issues);
    }

    const now = this.clock();
    const regionSettings = await effectiveSettings(trx, actor.regionCode);
    const applicantAge = ageOn(applicant.data.idNumber, now);
    const snapshot = initialSnapshot(def, def.createInput({ application: application.data, regionSettings, applicantAge }));
    const day = chinaDate(now);
    const seq = await nextSequence(trx, actor.regionCode, def.code, day.yyyymmdd);
    const reference = formatReference(def.code, actor.regionCode, day.yymmdd, seq);
    const trackingCode = newTrackingCode();
    const id = randomUUID();
    const leaves = activeLeaves(resolve(def, snapshot));
    const caseDue = dueOrNote(await this.calendars.forRegion(trx, actor.regionCode), now, def.totalTimeLimit);

    const opened = chained(
      {
        case_id: id,
        seq: 1,
        type: 'CASE_OPENED',
        payload: {
          procedureId: def.id,
          definitionVersion: def.version,
          ...(origin && 'onlineApplicationId' in origin ? { channel: '网上申请', onlineApplicationId: origin.onlineApplicationId, materialsReceived: origin.materialsReceived } : {}),
          ...(origin && 'leadId' in origin ? { leadId: origin.leadId } : {}),
        },
        actor_id: actor.id,
        actor_name: actor.name,
        from_state: null,
        to_state: snapshot.value,
        occurred_at: now,
      },
      null,
    );
    await cases.insertCase(trx, {
      id,
      reference,
      tracking_code_hash: hashTrackingCode(reference, trackingCode),
      procedure_id: def.id,
      definition_version: def.version,
      region_code: actor.regionCode,
      status: caseStatus(snapshot),
      state_value: snapshot.value,
      snapshot,
      version: 1,
      applicant_name: applicant.data.name,
      // ID numbers and bank cards are encrypted before they reach the database.
      applicant: this.cipher.seal(applicant.data),
      application: this.cipher.seal(application.data as Record<string, unknown>),
      created_by: actor.id!, // a clerk, never the system
      created_at: now,
      updated_at: now,
      due_at: caseDue.due,
      clock_paused_at: leaves.some((l) => l.meta.clockStopped && !l.final) ? now : null,
      deadline_note: caseDue.note,
      deadline_provisional: caseDue.provisional,
      chain_head: opened.hash,
    });
    await caseEvents.appendEvent(trx, opened);
    await this.syncTasks(trx, def, { id, region_code: actor.regionCode }, [], leaves, [], null, actor, now, null);
    // The tracking code exists in plaintext only now: it is sealed into the acceptance notice.
    await outbox.insertNotice(trx, id, acceptedNotice(def, reference, this.cipher.encrypt(trackingCode), caseDue.due), now);
    if (this.onTransition) afterCommit(trx, () => this.onTransition!({ procedureId: def.id, event: 'CASE_OPENED', caseId: id }));
    return { id, reference, trackingCode, version: 1 };
  }

  /** Sends an event to a case. `viaTaskId` is set when a reviewer completes a task from the inbox. */
  async sendEvent(trx: Db, actor: Actor, caseId: string, command: EventCommand, viaTaskId?: string): Promise<TransitionResult> {
    // The lock and the live tasks in one round trip, with BEGIN in front on PostgreSQL (db/wire.ts).
    const { row, live } = await cases.lockCaseWithLiveTasks(trx, caseId);
    if (!row || !coversRegion(actor, row.region_code)) throw notFound();
    const def = this.registry.pinned(row.procedure_id, row.definition_version);
    // Need to know before anything else: a refusal must not reveal that the case exists.
    await this.assertVisible(trx, actor, def, row, live);
    if (command.expectedVersion !== undefined && command.expectedVersion !== row.version) {
      throw new DomainError('conflict', 'VERSION_CONFLICT', '办件已被他人更新，请刷新后重试', {
        expectedVersion: command.expectedVersion,
        currentVersion: row.version,
      });
    }
    if (viaTaskId && !live.some((t) => t.id === viaTaskId)) {
      throw new DomainError('conflict', 'TASK_NOT_OPEN', '该任务已办结或不能执行此操作');
    }
    const restored = restore(def, row.snapshot);
    const current = restored.snapshot;
    const known = knownEvents(current);
    const spec = Object.hasOwn(def.events, command.type) ? def.events[command.type] : undefined;
    if (!spec || !known.includes(command.type)) {
      throw new DomainError(
        'conflict',
        row.status === 'done' ? 'CASE_CLOSED' : 'EVENT_NOT_ALLOWED',
        row.status === 'done' ? '办件已办结，不能再办理' : '当前环节不能执行该操作',
        { allowedEvents: allowedEvents(actor, def, row.region_code, known, live) },
      );
    }

    const decision = decide(actor, def, row.region_code, command.type, live, viaTaskId);
    if (!decision.ok) throw refuse(decision.refusal);
    const usedTask = decision.task;

    const parsed = spec.schema.safeParse(command.data ?? {});
    if (!parsed.success) {
      throw new DomainError('invalid', 'INVALID_EVENT_DATA', '办理信息有误，请按提示修改', fieldIssues(parsed.error.issues));
    }
    const event = { type: command.type, data: parsed.data as Record<string, unknown> };
    // The state knows the event, but the chart's own rules (guards) may still refuse it.
    if (!current.can(event)) {
      throw new DomainError('conflict', 'EVENT_REFUSED', spec.refusedMessage ?? '当前情形下不能执行该操作', {
        allowedEvents: allowedEvents(actor, def, row.region_code, known, live),
      });
    }

    const { snapshot: next, resolved: nextSnap, emitted } = restored.step(event);
    const now = this.clock();
    const version = row.version + 1;
    const leaves = activeLeaves(nextSnap);
    const clock = await this.caseClock(trx, def, row, leaves, now);
    const logged = chained(
      {
        case_id: caseId,
        seq: version,
        type: command.type,
        payload: event.data,
        actor_id: actor.id,
        actor_name: actor.name,
        from_state: row.snapshot.value,
        to_state: next.value,
        occurred_at: now,
      },
      row.chain_head,
    );
    const closing = caseStatus(next) === 'done' && row.status !== 'done' ? { closedAt: now } : {};
    const planned = await this.planTasks(trx, def, row, activeLeaves(current), leaves, live, usedTask, actor, now, command.type);
    const liveTasks = planned.liveTasks;
    const notices = transitionNotices(def, {
      reference: row.reference,
      eventType: command.type,
      data: event.data,
      contextBefore: current.context as Record<string, unknown>,
      contextAfter: nextSnap.context as Record<string, unknown>,
      becameDone: 'closedAt' in closing,
      stage: stageText(leaves),
      liveTasks,
      liveBefore: new Set(live.map((t) => t.id)),
    });
    const before = { leaves: activeLeaves(current), done: row.status === 'done' };
    const after = { leaves, done: caseStatus(next) === 'done' };
    // Most transitions write nothing that needs the event's id (a payment does) and decide nothing
    // (the rating invitation follows a decision): then their notices join the one statement, and
    // that statement is the command's last — COMMIT may go with it (db/batch.ts, db/wire.ts).
    const last = emitted.length === 0 && !service.decidesNow(before, after);
    // The snapshot, the event and every task, timer and notice write in one statement: the version
    // check still decides, inside it (ow_expect fails the statement, migration 020) — no saved
    // row, no command.
    let written: Record<string, unknown>;
    try {
      [written] = await writeTogether(
        trx,
        [
          cases.saveTransitionQuery(caseId, row.version, { status: caseStatus(next), stateValue: next.value, snapshot: next, updatedAt: now, chainHead: logged.hash, ...clock, ...closing }),
          caseEvents.appendEventQuery(logged),
          ...planned.writes,
          ...(last && notices.length ? [outbox.insertNoticesQuery(caseId, notices, now)] : []),
        ],
        `select ow_expect((select count(*) from w0) = 1, 'VERSION_CONFLICT') as saved, (select id from w1) as event_id`,
        { commit: last },
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'OW409') throw new DomainError('conflict', 'VERSION_CONFLICT', '办件已被他人更新，请刷新后重试');
      throw err;
    }
    if (!last) {
      const eventId = String(written.event_id);
      for (const effect of emitted) await this.recordEffect(trx, def, row, eventId, effect, now);
      // Just decided: the rating invitation (commands/service.ts).
      await service.afterTransition(trx, caseId, row.region_code, before, after, now);
      if (notices.length) await outbox.insertNoticesQuery(caseId, notices, now).run(trx);
    }
    if (this.onTransition) afterCommit(trx, () => this.onTransition!({ procedureId: def.id, event: command.type, caseId }));
    // Built from what the transition already holds: no extra queries on the hot path.
    return {
      caseId,
      reference: row.reference,
      version,
      status: caseStatus(next),
      stage: stageText(leaves),
      activeStates: leaves.map((l) => ({ stateId: l.stateId, stage: l.meta.stage })),
      // The sender holds a task of the case (its `live` ones include the one used) or is its window.
      facts: factsFor(actor, def, live, nextSnap.context),
      openTasks: liveTasks.map((t) => taskViewFor(actor, def, t)),
      allowedEvents: actionsFor(def, allowedEvents(actor, def, row.region_code, knownEvents(nextSnap), liveTasks)),
    };
  }

  /**
   * The whole-case clock: it stops while any active state is clock-stopped (补正, excluded 公示,
   * 冷静期…) and, when it starts again, the due date moves by the time that did not count.
   * Public for commands/migrateDefinition.ts, which re-derives a migrated case the same way.
   */
  async caseClock(trx: Db, def: ProcedureDefinition, row: cases.CaseRow, leaves: ActiveLeaf[], now: Date) {
    const paused = leaves.some((l) => l.meta.clockStopped && !l.final);
    const wasPaused = row.clock_paused_at !== null;
    if (paused === wasPaused) return {};
    if (paused) return { clockPausedAt: now };
    if (!row.due_at) return { clockPausedAt: null };
    const calendar = await this.calendars.forRegion(trx, row.region_code);
    try {
      // Working days add up, so the stored due date moves by this pause. A calendar-day period is
      // counted again from the opening past every pause (WorkCalendar.periodEnd), which needs the
      // earlier pauses from the log; resuming is rare (补正, 公示, 冷静期 ending).
      const pauses = def.totalTimeLimit.unit === 'WD' ? [] : closedPauses(def, await caseEvents.listEvents(trx, row.id));
      const { value, provisional } = calendar.trace(() =>
        def.totalTimeLimit.unit === 'WD'
          ? calendar.extend(row.due_at!, row.clock_paused_at!, now)
          : calendar.periodEnd(row.created_at, def.totalTimeLimit, [...pauses, { from: row.clock_paused_at!, to: now }]),
      );
      return { clockPausedAt: null, dueAt: value, deadlineProvisional: row.deadline_provisional || provisional };
    } catch (e) {
      if (e instanceof CalendarYearMissingError) return { clockPausedAt: null, dueAt: null, deadlineNote: `${e.code}:${e.year}`, deadlineProvisional: false };
      throw e;
    }
  }

  /**
   * Need to know (authorization.ts): the case does not exist for an actor who may not see it.
   * `known` are tasks already loaded; all of the case's tasks are read only when they do not decide.
   */
  private async assertVisible(db: Db, actor: Actor, def: ProcedureDefinition, row: { id: string; region_code: string }, known: tasks.TaskRow[]): Promise<void> {
    if (maySeeCase(actor, def, row.region_code, known.map((t) => t.department))) return;
    if (!coversRegion(actor, row.region_code) || !maySeeCase(actor, def, row.region_code, (await tasks.tasksOfCase(db, row.id)).map((t) => t.department))) {
      throw notFound();
    }
  }

  /**
   * Derives what follows from the chart's new state, in the same transaction: opens a task (with
   * its deadline and escalation timers) for every task state entered, closes the task of every
   * state left and cancels its timers, and schedules or cancels the chart's own state timers.
   * Public for commands/migrateDefinition.ts, which re-derives a migrated case the same way.
   */
  async syncTasks(
    trx: Db,
    def: ProcedureDefinition,
    caseRow: { id: string; region_code: string },
    previousLeaves: ActiveLeaf[],
    leaves: ActiveLeaf[],
    live: tasks.TaskRow[],
    usedTask: tasks.TaskRow | null,
    actor: Actor,
    now: Date,
    eventType: string | null,
  ): Promise<tasks.TaskRow[]> {
    const planned = await this.planTasks(trx, def, caseRow, previousLeaves, leaves, live, usedTask, actor, now, eventType);
    await writeTogether(trx, planned.writes);
    return planned.liveTasks;
  }

  /**
   * syncTasks' decisions without running them: the writes (distinct rows, independent of each
   * other, so they may run as one statement) and the case's live tasks once they ran.
   */
  private async planTasks(
    trx: Db,
    def: ProcedureDefinition,
    caseRow: { id: string; region_code: string },
    previousLeaves: ActiveLeaf[],
    leaves: ActiveLeaf[],
    live: tasks.TaskRow[],
    usedTask: tasks.TaskRow | null,
    actor: Actor,
    now: Date,
    eventType: string | null,
  ): Promise<{ writes: Sql[]; liveTasks: tasks.TaskRow[] }> {
    const writes: Sql[] = [];
    const taskLeaves = leaves.filter((l) => l.meta.task && !l.final);
    const activeIds = new Set(taskLeaves.map((l) => l.stateId));
    // Service tasks (好差评 整改 / 回访) come from no chart state: reconciliation leaves them alone.
    const closing = live.filter((t) => !isServiceTask(t) && !activeIds.has(t.state_id));
    for (const t of closing) {
      const completed = usedTask?.id === t.id;
      writes.push(tasks.closeTaskQuery(t.id, {
        status: completed ? 'completed' : 'cancelled',
        closedAt: now,
        closedBy: actor.id,
        outcome: completed ? eventType : null,
      }));
    }
    if (closing.length) writes.push(timers.cancelTaskTimersQuery(closing.map((t) => t.id)));

    const liveIds = new Set(live.map((t) => t.state_id));
    const entering = taskLeaves.filter((l) => !liveIds.has(l.stateId));
    const previousIds = new Set(previousLeaves.map((l) => l.stateId));
    const timedEntered = leaves.filter((l) => l.meta.timer && !previousIds.has(l.stateId));
    const calendar = entering.length || timedEntered.length ? await this.calendars.forRegion(trx, caseRow.region_code) : null;
    const opened = entering.map((l) => openingTask(def, caseRow, l.stateId, l.meta.task!, calendar!, now));
    if (opened.length) writes.push(tasks.insertTasksQuery(opened));

    const newTimers = opened.flatMap((t, i) => escalationTimers(t, entering[i].meta.task!, now));
    for (const l of timedEntered) {
      const { due } = dueOrNote(calendar!, now, l.meta.timer!);
      if (due) newTimers.push({ case_id: caseRow.id, task_id: null, state_id: l.stateId, kind: 'state', event_type: l.meta.timer!.event, due_at: due, created_at: now });
    }
    if (newTimers.length) writes.push(timers.insertTimersQuery(newTimers));
    const activeLeafIds = new Set(leaves.map((l) => l.stateId));
    // Left and entered are disjoint sets of states: the cancelled rows are never the inserted ones.
    const left = previousLeaves.filter((l) => l.meta.timer && !activeLeafIds.has(l.stateId)).map((l) => l.stateId);
    if (left.length) writes.push(timers.cancelStateTimersQuery(caseRow.id, left));
    return { writes, liveTasks: [...live.filter((t) => isServiceTask(t) || activeIds.has(t.state_id)), ...opened] };
  }

  private async recordEffect(trx: Db, def: ProcedureDefinition, row: cases.CaseRow, eventId: string, effect: { type: string; [k: string]: unknown }, now: Date) {
    const caseId = row.id;
    if (effect.type === 'payment') {
      const period = String(effect.period);
      const paymentId = await payments.insertPayment(trx, {
        case_id: caseId,
        period,
        amount_fen: Number(effect.amountFen),
        event_id: eventId,
        created_at: now,
      });
      if (!paymentId) throw new DomainError('conflict', 'ALREADY_PAID', `${period} 已发放，不能重复发放`);
      await outbox.insertOutbox(trx, caseId, 'payment.requested', { paymentId, period, amountFen: effect.amountFen }, now);
      await outbox.insertNotice(trx, caseId, paymentNotice(def, row.reference, period, Number(effect.amountFen)), now);
      return;
    }
    await outbox.insertOutbox(trx, caseId, effect.type, effect, now);
  }

  /**
   * Fires one leased timer through the normal engine path: the case row is locked first (as on
   * every path), then the timer row; a timer no longer pending or leased to someone else is
   * skipped, and a timer whose task or state the case has left is a no-op. Escalation raises the
   * task's level, is logged, and is offered to the chart as an event; a chart that listens for
   * it (deemed withdrawal, 补正 expiry) transitions, otherwise the event is only recorded.
   */
  async fireTimer(trx: Db, timerId: string, workerId: string): Promise<'fired' | 'moot' | 'skipped'> {
    const peek = await timers.getTimer(trx, timerId);
    if (!peek) return 'skipped';
    const row = await cases.lockCase(trx, peek.case_id);
    const timer = await timers.lockTimer(trx, timerId);
    if (!row || !timer || timer.status !== 'pending' || timer.locked_by !== workerId) return 'skipped';
    const now = this.clock();
    const def = this.registry.pinned(row.procedure_id, row.definition_version);
    const current = resolve(def, row.snapshot);
    if (timer.kind === 'invite') return service.fireInvitation(this, trx, def, row, timer, now);
    let payload: Record<string, unknown> = { timerId: timer.id, kind: timer.kind, dueAt: timer.due_at.toISOString() };
    if (timer.task_id) {
      const task = await tasks.getTask(trx, timer.task_id);
      if (!task || !tasks.LIVE_STATUSES.includes(task.status)) {
        await timers.finishTimer(trx, timer.id, 'cancelled', now);
        return 'moot';
      }
      const level = ESCALATION_LEVEL[timer.kind as keyof typeof ESCALATION_LEVEL];
      if (isHigherLevel(level, task.escalation)) await tasks.escalateTask(trx, task.id, level, now);
      payload = { ...payload, taskId: task.id, task: task.title, department: task.department, level };
    } else if (!activeLeaves(current).some((l) => l.stateId === timer.state_id)) {
      await timers.finishTimer(trx, timer.id, 'cancelled', now);
      return 'moot';
    }
    const event = { type: timer.event_type, data: {} };
    if (current.status === 'active' && knownEvents(current).includes(event.type) && current.can(event)) {
      await this.sendEvent(trx, SYSTEM_ACTOR, row.id, event);
    } else {
      await appendCaseNote(trx, row, timer.event_type, payload, SYSTEM_ACTOR, now);
    }
    await timers.finishTimer(trx, timer.id, 'fired', now);
    return 'fired';
  }

  async claimTask(trx: Db, actor: Actor, taskId: string): Promise<void> {
    const task = await this.visibleTask(trx, actor, taskId);
    await cases.lockCase(trx, task.case_id);
    const fresh = (await tasks.getTask(trx, taskId))!;
    if (!mayWork(actor, fresh)) throw refuse('NOT_YOUR_DEPARTMENT');
    if (fresh.status === 'claimed' && fresh.assignee_id === actor.id) return;
    if (fresh.status !== 'open') {
      throw new DomainError('conflict', fresh.status === 'claimed' ? 'TASK_CLAIMED_BY_OTHER' : 'TASK_NOT_OPEN',
        fresh.status === 'claimed' ? '该任务已由他人认领' : '该任务已办结');
    }
    await tasks.claimTask(trx, taskId, actor.id!);
  }

  /**
   * Releases a claimed task back to its department's queue: by its assignee, or by a supervisor
   * whose region covers it (someone left, a claim forgotten). Refused unless claimed by the caller.
   */
  async unclaimTask(trx: Db, actor: Actor, taskId: string): Promise<void> {
    const task = await this.visibleTask(trx, actor, taskId);
    await cases.lockCase(trx, task.case_id);
    const fresh = (await tasks.getTask(trx, taskId))!;
    const assignee = fresh.assignee_id !== null && fresh.assignee_id === actor.id;
    const supervisor = actor.roles.includes('supervisor') && coversRegion(actor, fresh.region_code);
    if (!assignee && !supervisor && !mayWork(actor, fresh)) throw refuse('NOT_YOUR_DEPARTMENT');
    if (!tasks.LIVE_STATUSES.includes(fresh.status)) throw new DomainError('conflict', 'TASK_NOT_OPEN', '该任务已办结');
    if (fresh.status !== 'claimed') throw new DomainError('conflict', 'TASK_NOT_CLAIMED', '该任务尚未被认领，无需释放');
    if (!assignee && !supervisor) throw new DomainError('conflict', 'TASK_CLAIMED_BY_OTHER', '该任务由他人认领，只有认领人或督办人员可以释放');
    await tasks.unclaimTask(trx, taskId);
  }

  async completeTask(
    trx: Db,
    actor: Actor,
    taskId: string,
    command: { outcome: string; data?: unknown; expectedVersion?: number },
  ): Promise<TransitionResult> {
    const task = await this.visibleTask(trx, actor, taskId);
    // Who may work the task is decided before what they sent: a caller who sees the case but not
    // the task's department learns that, not which outcomes the task takes.
    if (!mayWork(actor, task)) throw refuse('NOT_YOUR_DEPARTMENT');
    if (!task.actions.includes(command.outcome)) {
      throw new DomainError('invalid', 'INVALID_OUTCOME', '该任务不能以此结果办结', [
        { path: 'outcome', message: `可选：${task.actions.join('、')}` },
      ]);
    }
    if (isServiceTask(task) && isServiceOutcome(command.outcome)) {
      return this.currentResult(trx, actor, await service.completeServiceTask(this, trx, actor, task, command));
    }
    return this.sendEvent(
      trx,
      actor,
      task.case_id,
      { type: command.outcome, data: command.data, expectedVersion: command.expectedVersion },
      taskId,
    );
  }

  /** What a command returns, read back after a command that did not step the chart (service tasks). */
  private async currentResult(trx: Db, actor: Actor, caseId: string): Promise<TransitionResult> {
    const row = (await cases.getCase(trx, caseId))!;
    const def = this.registry.pinned(row.procedure_id, row.definition_version);
    const snap = resolve(def, row.snapshot);
    const leaves = activeLeaves(snap);
    const liveTasks = await tasks.liveTasksOfCase(trx, caseId);
    return {
      caseId,
      reference: row.reference,
      version: row.version,
      status: row.status,
      stage: stageText(leaves),
      activeStates: leaves.map((l) => ({ stateId: l.stateId, stage: l.meta.stage })),
      facts: factsFor(actor, def, liveTasks, snap.context),
      openTasks: liveTasks.map((t) => taskViewFor(actor, def, t)),
      allowedEvents: caseActions(actor, def, row.region_code, knownEvents(snap), liveTasks),
    };
  }

  /** A task of a case the actor may not see does not exist for them (404). Also used by commands/assignment.ts. */
  async visibleTask(db: Db, actor: Actor, taskId: string): Promise<tasks.TaskRow> {
    const task = await tasks.getTask(db, taskId);
    if (!task || !coversRegion(actor, task.region_code)) throw notFound('任务');
    if (task.department !== actor.department || actor.roles.length === 0) {
      const row = await cases.getCase(db, task.case_id);
      const def = row && this.registry.pinned(row.procedure_id, row.definition_version);
      if (!row || !def) throw notFound('任务');
      await this.assertVisible(db, actor, def, row, [task]).catch(() => {
        throw notFound('任务');
      });
    }
    return task;
  }

  // Read models live in queries/, one module per view; these delegate so callers keep one handle.

  caseView(db: Db, actor: Actor, caseId: string) {
    return caseView(this, db, actor, caseId);
  }

  inbox(db: Db, actor: Actor, q: InboxQuery) {
    return inbox(this, db, actor, q);
  }

  /**
   * Full personal data, for those whose work needs it: clerks of the accepting department and
   * reviewers of a department that holds (or held) a task on the case, in its region. Every
   * access is recorded in `personal_data_access`.
   */
  async personalData(trx: Db, actor: Actor, caseId: string) {
    const row = await cases.getCase(trx, caseId);
    if (!row || !coversRegion(actor, row.region_code)) throw notFound();
    const def = this.registry.pinned(row.procedure_id, row.definition_version);
    const taskDepartments = new Set((await tasks.tasksOfCase(trx, caseId)).map((t) => t.department));
    if (!maySeeCase(actor, def, row.region_code, taskDepartments)) throw notFound();
    if (!handlesPersonalData(actor, def, taskDepartments)) throw new DomainError('forbidden', 'NOT_ENTITLED', '您的岗位无需查看该办件的完整个人信息');
    const applicant = this.cipher.open(row.applicant);
    const application = this.cipher.open(row.application);
    await trx('personal_data_access').insert({ user_id: actor.id, case_id: caseId, fields: ['applicant', 'application'], accessed_at: this.clock() });
    return { caseId, reference: row.reference, applicant, application };
  }

  /** Recomputes a case's hash chain. For supervisors and admins (auditors) of the case's region. */
  async verifyAudit(db: Db, actor: Actor, caseId: string) {
    if (!actor.roles.includes('supervisor') && !actor.roles.includes('admin')) {
      throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅督办、审计人员可核验办件日志');
    }
    const row = await cases.getCase(db, caseId);
    if (!row || !coversRegion(actor, row.region_code)) throw notFound();
    return { caseId, reference: row.reference, algorithm: 'SM3' as const, ...verifyChain(await caseEvents.listEvents(db, caseId), row.chain_head) };
  }

  supervision(db: Db, actor: Actor) {
    return supervisionBoard(this, db, actor);
  }

  supervisionTasks(db: Db, actor: Actor, q: SupervisionTasksQuery) {
    return supervisionTasks(this, db, actor, q);
  }

  track(db: Db, reference: string, code: string) {
    return track(this, db, reference, code);
  }
}

/** Whole years of age on `at` (China time), from the birth date inside a resident ID number. */
export function ageOn(idNumber: string, at: Date): number {
  const birth = idNumber.slice(6, 14);
  const today = chinaDate(at).yyyymmdd;
  const years = Number(today.slice(0, 4)) - Number(birth.slice(0, 4));
  return today.slice(4) >= birth.slice(4) ? years : years - 1;
}

/** An event row with its place in the case's hash chain. */
/** The chart's facts as the actor may read them: incomes only for those who handle the case. */
function factsFor(actor: Actor, def: ProcedureDefinition, tasksOfCase: readonly { department: string }[], context: unknown): Record<string, unknown> {
  const facts = context as Record<string, unknown>;
  return handlesPersonalData(actor, def, tasksOfCase.map((t) => t.department)) ? facts : withoutIncomes(facts);
}

export function chained(content: ChainedContent & { payload: Record<string, unknown> }, prevHash: string | null) {
  return { ...content, prev_hash: prevHash, hash: eventHash(content, prevHash) };
}

export function caseStatus(snapshot: PersistedSnapshot): cases.CaseStatus {
  return snapshot.status === 'done' ? 'done' : 'running';
}

function prefixIssues(prefix: string, issues: Parameters<typeof fieldIssues>[0]): FieldIssue[] {
  return fieldIssues(issues).map((i) => ({ ...i, path: i.path ? `${prefix}.${i.path}` : prefix }));
}

export type { ActiveLeaf };
