import type { Db } from '../../db/connection.ts';
import * as cases from '../../db/cases.ts';
import * as caseEvents from '../../db/caseEvents.ts';
import * as payments from '../../db/payments.ts';
import * as tasks from '../../db/tasks.ts';
import { coversRegion, handlesPersonalData, maySeeCase, type Actor } from '../authorization.ts';
import { activeLeaves, knownEvents, resolve, stageText } from '../chart.ts';
import { notFound } from '../errors.ts';
import { maskDeep, withoutIncomes } from '../masking.ts';
import { caseActions, caseDeadline, eventLabel, remainingFn, taskView, taskViewFor } from '../views.ts';
import type { ReadContext } from './context.ts';

/** The case page: state, tasks (with what this actor may do), history and payments; personal data masked. */
export async function caseView(ctx: ReadContext, db: Db, actor: Actor, caseId: string) {
  const row = await cases.getCase(db, caseId);
  if (!row || !coversRegion(actor, row.region_code)) throw notFound();
  const def = ctx.registry.pinned(row.procedure_id, row.definition_version);
  // Sequential: `db` may be a transaction, which is one connection.
  const allTasks = await tasks.tasksOfCase(db, caseId);
  if (!maySeeCase(actor, def, row.region_code, allTasks.map((t) => t.department))) throw notFound();
  const snap = resolve(def, row.snapshot);
  const leaves = activeLeaves(snap);
  const liveTasks = allTasks.filter((t) => tasks.LIVE_STATUSES.includes(t.status));
  const events = await caseEvents.listEvents(db, caseId);
  const paid = await payments.listPayments(db, caseId);
  const remaining = remainingFn(await ctx.calendars.forRegion(db, row.region_code), ctx.clock());
  const deadline = caseDeadline(row, remaining);
  // Incomes (in the application, the chart's facts and the events that set them) for those whose work needs them.
  const shown = handlesPersonalData(actor, def, allTasks.map((t) => t.department)) ? <T,>(v: T) => v : withoutIncomes;
  return {
    id: row.id,
    reference: row.reference,
    procedureId: def.id,
    procedureName: def.name,
    definitionVersion: def.version,
    regionCode: row.region_code,
    status: row.status,
    version: row.version,
    stage: stageText(leaves),
    stateValue: row.state_value,
    activeStates: leaves.map((l) => ({ stateId: l.stateId, stage: l.meta.stage })),
    facts: shown(snap.context as Record<string, unknown>),
    applicant: maskDeep(ctx.cipher.open(row.applicant)),
    application: shown(maskDeep(ctx.cipher.open(row.application))),
    deadline,
    deadlineText: deadline.text,
    openTasks: liveTasks.map((t) => taskViewFor(actor, def, t, remaining)),
    closedTasks: allTasks.filter((t) => !tasks.LIVE_STATUSES.includes(t.status)).map((t) => taskView(def, t)),
    allowedEvents: caseActions(actor, def, row.region_code, knownEvents(snap), liveTasks),
    history: events.map((e) => ({
      seq: e.seq,
      type: e.type,
      label: eventLabel(def, e.type),
      actor: e.actor_name,
      at: e.occurred_at.toISOString(),
      fromState: e.from_state,
      toState: e.to_state,
      payload: shown(e.payload),
    })),
    payments: paid.map((p) => ({ period: p.period, amountFen: p.amount_fen, at: p.created_at.toISOString(), status: p.status, statusLabel: payments.PAYMENT_STATUS_LABELS[p.status] })),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
