import type { ActiveLeaf } from './chart.ts';

/**
 * Steps that only issue a decided benefit month by month: a case whose remaining work is these is
 * decided (办结). A late 转办 (REFER_TO_SPECIALISED_RELIEF) is offered on those same steps and opens
 * tasks of its own; while a referral's task is open the case is not decided (docs/reports.md).
 * Read by the 月报告, the citizen's tracking page and the 好差评 invitation.
 */
export const PAYMENT_ONLY_EVENTS = ['PAY_MONTH', 'STOP_PAYMENTS', 'REFER_TO_SPECIALISED_RELIEF'];

/** A decided case (办结): a final state, or only monthly payments left. */
export function isDecided(leaves: ActiveLeaf[], done: boolean): boolean {
  if (done) return true;
  const working = leaves.filter((l) => !l.final && l.meta.task);
  return working.length > 0 && working.every((l) => l.meta.task!.actions.every((a) => PAYMENT_ONLY_EVENTS.includes(a)));
}
