import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 8: a due date that cannot be computed (its year's holidays are not loaded) is never shown
// as a raw code: every view carries a human `deadlineText`; the machine note stays for programs.
const ctx = useTestApp();
const PENDING = '预计完成日期待定（2027年节假日安排尚未公布）';

/** Paths of string values holding a raw deadline code. */
function rawCodes(value: unknown, path = '$'): string[] {
  if (typeof value === 'string') return value.includes('CALENDAR_YEAR_MISSING') ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => rawCodes(v, `${path}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => rawCodes(v, `${path}.${k}`));
  return [];
}

async function openAccepted() {
  const clerk = await ctx.as('clerk.beishan');
  const created = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
  const accepted = await clerk.post(`/api/cases/${created.id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  expect(accepted.statusCode, accepted.body).toBe(200);
  return created as { id: string; reference: string; trackingCode: string };
}

describe('deadline text', () => {
  it('says why there is no date when a limit runs into 2027 (not loaded), on the case view, the inbox and tracking', async () => {
    ctx.clock.current = new Date('2026-12-21T02:00:00Z'); // 30 working days from here end in 2027
    const c = await openAccepted();

    const view = (await (await ctx.as('clerk.beishan')).get(`/api/cases/${c.id}`)).json();
    expect(view.deadline).toMatchObject({ dueAt: null, note: 'CALENDAR_YEAR_MISSING:2027', text: PENDING });
    expect(view.deadlineText).toBe(PENDING);
    const staffView = (await (await ctx.as('verify.xihu')).get(`/api/cases/${c.id}`)).json();
    const check = staffView.openTasks.find((t: any) => t.stateId === 'sa.informationCheck');
    expect(check).toMatchObject({ dueAt: null, deadlineNote: 'CALENDAR_YEAR_MISSING:2027', deadlineText: PENDING });
    // The raw code appears only in the documented machine-readable fields.
    expect(rawCodes(view).every((p) => /\.(note|deadlineNote)$/.test(p))).toBe(true);

    const inbox = (await (await ctx.as('verify.xihu')).get('/api/tasks')).json();
    const item = inbox.items.find((t: any) => t.caseId === c.id);
    expect(item.deadlineText).toBe(PENDING);
    expect(rawCodes(inbox).every((p) => /\.deadlineNote$/.test(p))).toBe(true);

    const tracked = await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}` });
    expect(tracked.statusCode).toBe(200);
    expect(tracked.json().deadlineText).toBe(PENDING);
    expect(tracked.json().deadline).toMatchObject({ note: 'CALENDAR_YEAR_MISSING:2027', text: PENDING });
    expect(rawCodes(tracked.json())).toEqual(['$.deadline.note']);
  });

  it('writes a known due date in Chinese, and none once the case is finished', async () => {
    ctx.clock.current = new Date('2026-03-02T01:30:00Z');
    const c = await openAccepted();
    const clerk = await ctx.as('clerk.beishan');
    const view = (await clerk.get(`/api/cases/${c.id}`)).json();
    expect(view.deadline.note).toBeNull();
    expect(view.deadlineText).toMatch(/^2026年4月\d{1,2}日前$/);
    expect(view.openTasks.every((t: any) => /^2026年3月\d{1,2}日前$/.test(t.deadlineText))).toBe(true);

    const withdrawn = await clerk.post(`/api/cases/${c.id}/events`, { type: 'WITHDRAW', data: { reason: '申请人主动撤回' }, expectedVersion: 2 });
    expect(withdrawn.statusCode, withdrawn.body).toBe(200);
    const done = (await clerk.get(`/api/cases/${c.id}`)).json();
    expect(done.deadlineText).toBeNull();
    expect(done.closedTasks.every((t: any) => t.deadlineText === null)).toBe(true);
  });
});
