import { describe, expect, it } from 'vitest';
import { activeLeaves, initialSnapshot, knownEvents, resolve, stageText, step, type PersistedSnapshot } from '../../src/engine/chart.ts';
import { socialAssistance } from '../../workflows/social-assistance/index.ts';

// The chart alone, as a pure step function over persisted JSON snapshots.
const def = socialAssistance;
const send = (snap: PersistedSnapshot, type: string, data: Record<string, unknown> = {}) => step(def, snap, { type, data }).snapshot;
const leaves = (snap: PersistedSnapshot) => activeLeaves(resolve(def, snap)).map((l) => l.stateId);

function toPublicNotice(delegated: boolean) {
  let s = initialSnapshot(def, def.createInput({ application: {} as any, regionSettings: { assistanceConfirmationDelegated: delegated }, applicantAge: 40 }));
  s = send(s, 'ACCEPT', { referToMedicalAssistance: false });
  s = send(s, 'VERIFICATION_COMPLETED');
  s = send(s, 'HOME_VISIT_COMPLETED');
  s = send(s, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 100 });
  return s;
}

describe('social-assistance chart', () => {
  it('starts at acceptance with the clerk task and survives a JSON round trip', () => {
    const s = initialSnapshot(def, { confirmationDelegated: false });
    const roundTripped = JSON.parse(JSON.stringify(s));
    expect(leaves(roundTripped)).toEqual(['sa.acceptance']);
    expect(knownEvents(resolve(def, roundTripped)).sort()).toEqual(['ACCEPT', 'REJECT_APPLICATION', 'REQUEST_SUPPLEMENT', 'WITHDRAW']);
  });

  it('joins the two investigation branches before 初审', () => {
    let s = send(initialSnapshot(def, { confirmationDelegated: false }), 'ACCEPT', {});
    expect(leaves(s)).toEqual(['sa.informationCheck', 'sa.homeVisit', 'sa.handling.medicalAssistance.notReferred']);
    s = send(s, 'HOME_VISIT_COMPLETED');
    expect(leaves(s)).toContain('sa.informationCheck');
    s = send(s, 'VERIFICATION_COMPLETED');
    expect(leaves(s)[0]).toBe('sa.preliminaryReview');
  });

  it('routes confirmation by the region setting captured at creation', () => {
    expect(leaves(send(toPublicNotice(false), 'PUBLIC_NOTICE_ENDED'))[0]).toBe('sa.countyConfirmation');
    expect(leaves(send(toPublicNotice(true), 'PUBLIC_NOTICE_ENDED'))[0]).toBe('sa.townshipConfirmation');
  });

  it('emits one payment effect per month and refuses the same month again', () => {
    let s = send(send(toPublicNotice(false), 'PUBLIC_NOTICE_ENDED'), 'APPROVE', { monthlyAmountFen: 5000, startMonth: '2026-04' });
    const first = step(def, s, { type: 'PAY_MONTH', data: { period: '2026-04' } });
    expect(first.emitted).toEqual([{ type: 'payment', period: '2026-04', amountFen: 5000 }]);
    s = first.snapshot;
    const snap = resolve(def, s);
    expect(snap.can({ type: 'PAY_MONTH', data: { period: '2026-04' } })).toBe(false);
    expect(snap.can({ type: 'PAY_MONTH', data: { period: '2026-03' } })).toBe(false);
    expect(snap.can({ type: 'PAY_MONTH', data: { period: '2026-05' } })).toBe(true);
  });

  it('shows parallel stages together for the citizen', () => {
    const s = send(initialSnapshot(def, { confirmationDelegated: false }), 'ACCEPT', { referToMedicalAssistance: true });
    expect(stageText(activeLeaves(resolve(def, s)))).toBe('家庭经济状况核对中；入户调查中；医疗救助审核中（医保部门）');
  });
});
