import { describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';
import { deadlineText } from '../../src/engine/views.ts';

// Issue 8: a due date is never shown as a raw code: every view carries a human `deadlineText`; the
// machine note stays for programs. Issue 10: a year whose holidays are not loaded gives a
// provisional date ("预计 …（以国务院公布的节假日安排为准）"), flagged in the API.
const ctx = useTestApp();
const PENDING = '预计完成日期待定（2100年节假日安排尚未公布）';
const PROVISIONAL = /^预计 2027年\d{1,2}月\d{1,2}日前（以国务院公布的节假日安排为准）$/;

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
  it('gives a provisional date, marked and worded as such, when a limit runs into 2027 (not loaded), on the case view, the inbox and tracking', async () => {
    ctx.clock.current = new Date('2026-12-21T02:00:00Z'); // 30 working days from here end in 2027
    const c = await openAccepted();

    const view = (await (await ctx.as('clerk.beishan')).get(`/api/cases/${c.id}`)).json();
    expect(view.deadline).toMatchObject({ dueAt: expect.stringMatching(/^2027-/), note: null, provisional: true, text: expect.stringMatching(PROVISIONAL) });
    expect(view.deadlineText).toBe(view.deadline.text);
    const staffView = (await (await ctx.as('verify.xihu')).get(`/api/cases/${c.id}`)).json();
    const check = staffView.openTasks.find((t: any) => t.stateId === 'sa.informationCheck');
    expect(check).toMatchObject({ dueAt: expect.stringMatching(/^2027-/), deadlineNote: null, deadlineProvisional: true, deadlineText: expect.stringMatching(PROVISIONAL) });
    expect(rawCodes(view)).toEqual([]);

    const inbox = (await (await ctx.as('verify.xihu')).get('/api/tasks')).json();
    const item = inbox.items.find((t: any) => t.caseId === c.id);
    expect(item).toMatchObject({ deadlineProvisional: true, deadlineText: check.deadlineText });

    const tracked = await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}` });
    expect(tracked.statusCode).toBe(200);
    expect(tracked.json().deadlineText).toBe(view.deadline.text);
    expect(tracked.json().deadline).toMatchObject({ note: null, provisional: true, text: view.deadline.text });
  });

  it('says why there is no date when a limit runs past what even a provisional calendar covers', async () => {
    expect(deadlineText(null, 'CALENDAR_YEAR_MISSING:2100')).toBe(PENDING);
    expect(deadlineText(new Date('2027-01-08T15:59:59.999Z'), null, true)).toBe('预计 2027年1月8日前（以国务院公布的节假日安排为准）');
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
