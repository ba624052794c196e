import type { ProcedureDefinition } from '../../shared/types.ts';
import { wd } from '../../shared/meta.ts';
import { ASSISTANCE_DEPARTMENTS, assistanceEvents } from './events.ts';
import { buildAssistanceMachine, socialAssistanceMachineV1 } from './machine.ts';

/**
 * Version 1 of 低保 and 特困 (one referral: 医疗救助, chosen at acceptance). New cases start on
 * version 2; these stay loaded for the cases that started on version 1, whose snapshots do not
 * fit the version-2 chart (its handling state has four referral regions instead of one).
 */
export function assistanceV1<A>(current: ProcedureDefinition<A>): ProcedureDefinition<A> {
  const machine =
    current.id === 'social-assistance'
      ? socialAssistanceMachineV1
      : buildAssistanceMachine({ prefix: 'tk', homeVisitLimit: wd(15, '特困人员认定办法'), skipPublicNoticeForMinors: true, paymentTitle: '特困供养金发放' });
  return { ...current, version: 1, machine, departments: ASSISTANCE_DEPARTMENTS, events: assistanceEvents(current.materials) };
}
