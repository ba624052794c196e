import type { ProcedureDefinition } from '../../workflows/index.ts';
import type { TaskRow } from '../db/tasks.ts';
import { shortProcedureName, type NoticeKind, type NoticePayloads } from './templates.ts';

/**
 * Which citizen notices a transition causes, decided from what the engine already holds (no
 * queries). The engine writes each as an outbox row `notice.<kind>` in the transition's own
 * transaction, so a notice exists exactly when its transition committed.
 *
 * - 补正: REQUEST_SUPPLEMENT (the window's 一次性告知) or a branch's <X>_SUPPLEMENT_REQUESTED,
 *   with the items and the due date of the 补正 task it opened.
 * - decision: the chart's `decision` changed (approved / refused, with amount or reason); else
 *   the case reached a final state — 不予受理 (REJECT_APPLICATION) with its reason, or any other
 *   ending (办结, 撤回, 补正期满…) with its stage text.
 * - payment: written beside the payment row (engine.recordEffect), see paymentNotice.
 * - accepted: at case opening (engine.openCase), see acceptedNotice.
 */
export interface NoticeDraft<K extends NoticeKind = NoticeKind> {
  kind: K;
  payload: NoticePayloads[K];
}

export interface TransitionFacts {
  reference: string;
  eventType: string;
  data: Record<string, unknown>;
  contextBefore: Record<string, unknown>;
  contextAfter: Record<string, unknown>;
  becameDone: boolean;
  /** Citizen-facing stage text after the step. */
  stage: string;
  /** Live tasks after the step, and the ids live before it (to find the one just opened). */
  liveTasks: TaskRow[];
  liveBefore: Set<string>;
}

const common = (def: ProcedureDefinition, reference: string) => ({ procedure: shortProcedureName(def.name), reference });

export function acceptedNotice(def: ProcedureDefinition, reference: string, sealedTrackingCode: string, dueAt: Date | null): NoticeDraft<'accepted'> {
  return { kind: 'accepted', payload: { ...common(def, reference), trackingCode: sealedTrackingCode, dueAt: dueAt?.toISOString() ?? null } };
}

export function paymentNotice(def: ProcedureDefinition, reference: string, period: string, amountFen: number): NoticeDraft<'payment'> {
  return { kind: 'payment', payload: { ...common(def, reference), period, amountFen } };
}

/**
 * 好差评 (issue 9): the invitation to rate a decided case, written by the invitation timer
 * (commands/service.ts `fireInvitation`: once, 3 days after the decision; docs/ratings.md).
 */
export function ratingInvitationNotice(def: ProcedureDefinition, reference: string): NoticeDraft<'rating_invitation'> {
  return { kind: 'rating_invitation', payload: common(def, reference) };
}

export function transitionNotices(def: ProcedureDefinition, t: TransitionFacts): NoticeDraft[] {
  const out: NoticeDraft[] = [];
  const c = common(def, t.reference);
  if (t.eventType === 'REQUEST_SUPPLEMENT' || t.eventType.endsWith('_SUPPLEMENT_REQUESTED')) {
    const codes = (t.data.missingMaterials ?? t.data.items ?? []) as string[];
    const items = codes.map((code) => def.materials.find((m) => m.code === code)?.name ?? code);
    const task = t.liveTasks.find((x) => !t.liveBefore.has(x.id) && /supplement$/i.test(x.state_id));
    out.push({ kind: 'supplement', payload: { ...c, items, dueAt: task?.due_at ? new Date(task.due_at).toISOString() : null } });
  }
  const before = t.contextBefore.decision as Record<string, unknown> | null | undefined;
  const after = t.contextAfter.decision as Record<string, unknown> | null | undefined;
  if (after && JSON.stringify(after) !== JSON.stringify(before ?? null)) {
    const amountFen = (after.monthlyAmountFen ?? after.amountFen) as number | undefined;
    out.push({
      kind: 'decision',
      payload: after.approved
        ? { ...c, outcome: 'approved', ...(amountFen !== undefined ? { amountFen, monthly: after.monthlyAmountFen !== undefined } : {}), ...(after.startMonth ? { startMonth: String(after.startMonth) } : {}) }
        : { ...c, outcome: 'refused', ...(after.reason ? { reason: String(after.reason) } : {}) },
    });
  } else if (t.becameDone) {
    out.push({
      kind: 'decision',
      payload:
        t.eventType === 'REJECT_APPLICATION'
          ? { ...c, outcome: 'notAccepted', ...(t.data.reason ? { reason: String(t.data.reason) } : {}) }
          : { ...c, outcome: 'closed', stage: t.stage },
    });
  }
  return out;
}
