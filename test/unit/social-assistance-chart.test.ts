import { describe, expect, it } from 'vitest';
import { activeLeaves, initialSnapshot, knownEvents, resolve, stageText, step, type PersistedSnapshot } from '../../src/engine/chart.ts';
import { socialAssistance } from '../../workflows/social-assistance/index.ts';

// The chart alone, as a pure step function over persisted JSON snapshots.
const def = socialAssistance;
const send = (snap: PersistedSnapshot, type: string, data: Record<string, unknown> = {}) => step(def, snap, { type, data }).snapshot;
const leaves = (snap: PersistedSnapshot) => activeLeaves(resolve(def, snap)).map((l) => l.stateId);

function toPublicNotice(delegated: boolean) {
  let s = initialSnapshot(def, def.createInput({ application: {} as any, regionSettings: { assistanceConfirmationDelegated: delegated }, applicantAge: 40 }));
  s = send(s, 'ACCEPT', { referrals: [] });
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
    expect(leaves(s)).toEqual(['sa.informationCheck', 'sa.homeVisit', 'sa.medicalAssistance.routing', 'sa.educationAssistance.routing', 'sa.housingAssistance.routing', 'sa.employmentAssistance.routing']);
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
    const s = send(initialSnapshot(def, { confirmationDelegated: false }), 'ACCEPT', { referrals: ['medical', 'housing'] });
    expect(stageText(activeLeaves(resolve(def, s)))).toBe('家庭经济状况核对中；入户调查中；医疗救助审核中（医保部门）；住房救助审核中（住房保障部门）');
  });

  it('refers to a specialised relief after approval without touching the payment step, and records each outcome', () => {
    let s = send(send(toPublicNotice(false), 'PUBLIC_NOTICE_ENDED'), 'APPROVE', { monthlyAmountFen: 5000, startMonth: '2026-04' });
    s = send(s, 'PAY_MONTH', { period: '2026-04' });
    expect(knownEvents(resolve(def, s))).toContain('REFER_TO_SPECIALISED_RELIEF');
    s = send(s, 'REFER_TO_SPECIALISED_RELIEF', { reliefs: ['education', 'employment'] });
    expect(leaves(s)).toEqual(['sa.paying', 'sa.medicalAssistance.routing', 'sa.educationAssistance', 'sa.housingAssistance.routing', 'sa.employmentAssistance']);
    expect((resolve(def, s).context as any).paidPeriods).toEqual(['2026-04']);
    // The same relief twice is refused (the whole event), a new one still opens.
    expect(resolve(def, s).can({ type: 'REFER_TO_SPECIALISED_RELIEF', data: { reliefs: ['education', 'housing'] } })).toBe(false);
    s = send(s, 'EDUCATION_ASSISTANCE_GRANTED', { measures: ['feeWaiver', 'grant'], amountFen: 200000 });
    s = send(s, 'EMPLOYMENT_ASSISTANCE_REFUSED', { reason: '已稳定就业' });
    expect((resolve(def, s).context as any).referralOutcomes).toEqual({
      education: { granted: true, measures: ['feeWaiver', 'grant'], amountFen: 200000 },
      employment: { granted: false, reason: '已稳定就业' },
    });
    // Payments go on; stopping them ends the reliefs never referred, and the case closes.
    s = send(s, 'PAY_MONTH', { period: '2026-05' });
    s = send(s, 'STOP_PAYMENTS', { reason: '家庭收入已超过保障标准' });
    expect(s.status).toBe('done');
  });

  it('offers no late referral before approval', () => {
    const s = toPublicNotice(false);
    expect(knownEvents(resolve(def, s))).not.toContain('REFER_TO_SPECIALISED_RELIEF');
  });

  it('keeps a referral at acceptance open after the assistance is refused, and closes when it is decided', () => {
    let s = send(initialSnapshot(def, { confirmationDelegated: false }), 'ACCEPT', { referrals: ['housing'] });
    s = send(send(s, 'VERIFICATION_COMPLETED'), 'HOME_VISIT_COMPLETED');
    s = send(s, 'PRELIMINARY_REFUSE', { reason: '家庭收入高于保障标准' });
    expect(s.status).toBe('active');
    expect(leaves(s)).toContain('sa.housingAssistance');
    s = send(s, 'HOUSING_ASSISTANCE_GRANTED', { measures: ['rentSubsidy'] });
    expect(s.status).toBe('done');
  });
});
