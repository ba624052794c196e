import type { ProcedureDefinition, StateMeta, TaskMeta } from '../../workflows/index.ts';
import type { Db } from '../db/connection.ts';
import * as cases from '../db/cases.ts';
import * as caseEvents from '../db/caseEvents.ts';
import * as tasks from '../db/tasks.ts';
import * as timers from '../db/timers.ts';
import * as jobs from '../db/calendarRecomputeJobs.ts';
import type { WorkCalendar } from './calendar.ts';
import { CALENDAR_CACHE_MS } from './calendars.ts';
import { dueOrNote, escalationTimers, planTaskDeadline } from './deadlines.ts';
import { DomainError } from './errors.ts';
import { DEADLINES_RECOMPUTED, appendCaseNote } from './caseNotes.ts';
import { SYSTEM_ACTOR } from './authorization.ts';
import type { Engine } from './engine.ts';
import { recomputeLeadDues } from './commands/leads.ts';

/**
 * After a calendar load: recomputes the due, warning and red dates and the pending timers of every
 * running case whose dates touch the loaded year, clears the provisional mark where the dates no
 * longer go through an unannounced year, and logs `DEADLINES_RECOMPUTED` (old → new) in each case
 * whose dates changed. Durable: a job row, claimed with SKIP LOCKED and a lease, worked in batches,
 * each batch one transaction under the lock of each of its cases; a crash loses at most a batch,
 * which the next claimant redoes (the recompute is idempotent: unchanged cases log nothing).
 */

/** Queues the recompute for a load; claimable once every process has dropped its cached calendar. */
export function enqueueAfterLoad(db: Db, load: { regionCode: string; year: number; source: string; requestedBy: string | null }, now: Date) {
  return jobs.enqueueRecompute(db, { ...load, now, notBefore: new Date(now.getTime() + CALENDAR_CACHE_MS) });
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const same = (a: Date | null | undefined, b: Date | null | undefined) => iso(a) === iso(b);

function stateNode(def: ProcedureDefinition, stateId: string): any {
  try {
    return (def.machine as any).getStateNodeById(stateId);
  } catch {
    return undefined;
  }
}

/** Active leaf nodes of a stored state value (`'a'` or `{ region: 'b', … }`), without a snapshot. */
function leafNodes(node: any, value: unknown): any[] {
  if (!node) return [];
  if (typeof value === 'string') return node.states?.[value] ? [node.states[value]] : [];
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leafNodes(node.states?.[k], v));
  return [];
}

const pausedIn = (def: ProcedureDefinition, value: unknown) =>
  leafNodes((def.machine as any).root, value).some((n) => (n.meta as StateMeta | undefined)?.clockStopped && n.type !== 'final');

/** The clock pauses the event log shows closed: a clock-stopped state entered, then left. */
export function closedPauses(def: ProcedureDefinition, events: readonly Pick<caseEvents.CaseEventRow, 'to_state' | 'occurred_at'>[]) {
  const pauses: { from: Date; to: Date }[] = [];
  let pausedAt: Date | null = null;
  for (const e of events) {
    const paused = pausedIn(def, e.to_state);
    if (paused && !pausedAt) pausedAt = e.occurred_at;
    else if (!paused && pausedAt) {
      pauses.push({ from: pausedAt, to: e.occurred_at });
      pausedAt = null;
    }
  }
  return pauses;
}

/**
 * The whole-case due date as the engine would have computed it on `calendar`: from the opening,
 * past every pause the event log shows (clock-stopped states entered and left), exactly as
 * caseClock() does while the case runs. An open pause has not moved it yet.
 */
export function replayCaseDue(calendar: WorkCalendar, def: ProcedureDefinition, row: cases.CaseRow, events: caseEvents.CaseEventRow[]) {
  return calendar.trace(() => calendar.periodEnd(row.created_at, def.totalTimeLimit, closedPauses(def, events)));
}

export interface CaseRecompute {
  changed: boolean;
}

/** Recomputes one case's dates on `calendar`; the caller holds a transaction. */
export async function recomputeCase(engine: Engine, trx: Db, caseId: string, calendar: WorkCalendar, job: { year: number; region_code: string; source: string }): Promise<CaseRecompute> {
  const row = await cases.lockCase(trx, caseId);
  if (!row || row.status !== 'running') return { changed: false };
  const def = engine.registry.pinned(row.procedure_id, row.definition_version);
  const now = engine.clock();
  const changes: Record<string, unknown>[] = [];

  // Tasks: re-planned from their opening on the new calendar, with their timers.
  for (const t of await tasks.liveTasksOfCase(trx, caseId)) {
    const nodeMeta = stateNode(def, t.state_id)?.meta?.task as TaskMeta | undefined;
    const meta = { ...(nodeMeta ?? {}), timeLimit: t.time_limit } as TaskMeta;
    if (!meta.timeLimit) continue;
    const plan = planTaskDeadline(calendar, t.opened_at, meta, def);
    if (same(plan.due_at, t.due_at) && same(plan.warn_at, t.warn_at) && same(plan.red_at, t.red_at) && plan.deadline_provisional === t.deadline_provisional && plan.deadline_note === t.deadline_note) continue;
    await trx('tasks').where({ id: t.id }).update(plan);
    const pending = await trx('timers').where({ task_id: t.id, status: 'pending' }).select('id', 'kind');
    if (plan.due_at) {
      const at: Record<string, Date> = { warn: plan.warn_at!, overdue: plan.due_at, red: plan.red_at! };
      // A leased timer loses its lease: the worker holding it re-checks and skips it (engine.fireTimer).
      for (const p of pending) await trx('timers').where({ id: p.id }).update({ due_at: at[p.kind], locked_by: null, locked_until: null });
      // A task that had no due date (its year was missing, before migration 012) gets its timers now;
      // one already past fires at the worker's next poll, as a timer due while no worker ran would.
      if (pending.length === 0 && t.due_at === null) await timers.insertTimers(trx, escalationTimers({ ...t, ...plan }, meta, now));
    } else {
      await timers.cancelTaskTimers(trx, [t.id]);
    }
    changes.push({ taskId: t.id, task: t.title, from: iso(t.due_at), to: iso(plan.due_at), redFrom: iso(t.red_at), redTo: iso(plan.red_at), provisional: plan.deadline_provisional });
  }

  // Chart timers (冷静期 and the like): due from when their state was entered.
  for (const m of await trx('timers').where({ case_id: caseId, status: 'pending', kind: 'state' }).select('id', 'state_id', 'due_at', 'created_at', 'event_type')) {
    const limit = (stateNode(def, m.state_id)?.meta as StateMeta | undefined)?.timer;
    if (!limit) continue;
    const { due } = dueOrNote(calendar, m.created_at, limit);
    if (!due || same(due, m.due_at)) continue;
    await trx('timers').where({ id: m.id }).update({ due_at: due, locked_by: null, locked_until: null });
    changes.push({ timer: m.event_type, from: iso(m.due_at), to: iso(due) });
  }

  // The whole-case clock.
  let caseChange: { dueAt: Date | null; deadlineNote: string | null; deadlineProvisional: boolean } | null = null;
  if (row.due_at || row.deadline_note) {
    try {
      const { value, provisional } = replayCaseDue(calendar, def, row, await caseEvents.listEvents(trx, caseId));
      if (!same(value, row.due_at) || provisional !== row.deadline_provisional || row.deadline_note !== null) caseChange = { dueAt: value, deadlineNote: null, deadlineProvisional: provisional };
    } catch (e) {
      if (!(e instanceof DomainError && e.code === 'CALENDAR_YEAR_MISSING')) throw e;
    }
  }
  if (changes.length === 0 && !caseChange) return { changed: false };

  const payload = {
    year: job.year,
    regionCode: job.region_code,
    source: job.source,
    ...(caseChange ? { caseDue: { from: iso(row.due_at), to: iso(caseChange.dueAt), provisional: caseChange.deadlineProvisional } } : {}),
    changes,
  };
  // Logged through the audit path (hash-chained), then the case's own dates written on top.
  await appendCaseNote(trx, row, DEADLINES_RECOMPUTED, payload, SYSTEM_ACTOR, now);
  if (caseChange) {
    await trx('cases').where({ id: caseId }).update({ due_at: caseChange.dueAt, deadline_note: caseChange.deadlineNote, deadline_provisional: caseChange.deadlineProvisional });
  }
  return { changed: true };
}

export interface RecomputeResult {
  jobId: string | null;
  batches: number;
  seen: number;
  changed: number;
  /** Open leads whose review due date moved (counted in the job's last batch). */
  leadsChanged: number;
  done: boolean;
  busy: boolean;
}

export interface RecomputeOptions {
  db: Db;
  engine: Engine;
  workerId: string;
  batchSize?: number;
  leaseMs?: number;
  /** Batches per claim before the loop gives the timers their turn. */
  maxBatches?: number;
}

/**
 * Claims one due job and works up to `maxBatches` batches of it. A busy case (a command holds its
 * lock) ends the batch before that case and hands the job back for a second later.
 */
export async function runRecomputeOnce(o: RecomputeOptions): Promise<RecomputeResult> {
  const { db, engine, workerId } = o;
  const batchSize = o.batchSize ?? 200;
  const leaseMs = o.leaseMs ?? 60_000;
  const result: RecomputeResult = { jobId: null, batches: 0, seen: 0, changed: 0, leadsChanged: 0, done: false, busy: false };
  const now = () => engine.clock();
  const job = await jobs.claimRecomputeJob(db, workerId, now(), new Date(now().getTime() + leaseMs));
  if (!job) return result;
  result.jobId = job.id;
  try {
    while (!result.done && !result.busy && result.batches < (o.maxBatches ?? 10)) {
      await db.transaction(async (trx) => {
        const owned = await jobs.lockOwnedJob(trx, job.id, workerId);
        if (!owned) {
          result.busy = true; // the lease went to someone else
          return;
        }
        const ids = await jobs.casesTouchingYear(trx, { regionCode: owned.region_code, year: owned.year, afterId: owned.after_case_id, limit: batchSize });
        let last = owned.after_case_id;
        let seen = 0;
        let changed = 0;
        const regional = new Map<string, WorkCalendar>();
        for (const id of ids) {
          try {
            const done = await trx.transaction(async (sp) => {
              const region = (await sp('cases').where({ id }).first('region_code'))?.region_code as string;
              // Each case on its own region's calendar (national plus its adjustments).
              let cal = regional.get(region);
              if (!cal) regional.set(region, (cal = await engine.calendars.fresh(sp, region)));
              return recomputeCase(engine, sp, id, cal, owned);
            });
            if (done.changed) changed++;
          } catch (err) {
            if (err instanceof DomainError && err.code === 'CASE_BUSY') {
              result.busy = true;
              break;
            }
            throw err;
          }
          seen++;
          last = id;
        }
        const done = !result.busy && ids.length < batchSize;
        // With the last batch of cases, the region's open leads (主动发现 review due dates).
        if (done) result.leadsChanged += await recomputeLeadDues(engine, trx, owned);
        await jobs.saveProgress(trx, job.id, { afterCaseId: last, seen, changed, leaseUntil: new Date(now().getTime() + leaseMs), done, now: now() });
        result.batches++;
        result.seen += seen;
        result.changed += changed;
        result.done = done;
      });
    }
    if (!result.done) await jobs.releaseJob(db, job.id, workerId, { notBefore: new Date(now().getTime() + (result.busy ? 1000 : 0)) });
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    await jobs.releaseJob(db, job.id, workerId, { notBefore: new Date(now().getTime() + Math.min(3_600_000, 1000 * 2 ** job.attempts)), error: message, failed: job.attempts >= 10 }).catch(() => {});
    throw err;
  }
  return result;
}
