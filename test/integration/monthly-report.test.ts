import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { procedureDefinitions } from '../../workflows/index.ts';
import { leavesOf, monthBounds, monthlyReport, p90 } from '../../src/engine/queries/monthlyReport.ts';
import { applicant, application, useTestApp } from '../support/app.ts';
import { wholeScanOffenders } from '../support/plans.ts';

// The 月报告 read model below the HTTP layer: a 低保 case counts as decided (办结) at 审核确认 and
// not when its monthly payments stop; 公示 (clock stopped) does not count; ratings, 整改 and 回访 —
// events the later part of issue 9 writes — are read from the event log and tasks as soon as they
// exist; and the report's statements use indexes.
const ctx = useTestApp();
const supervisor = { id: null, name: '督办', regionCode: '330106', department: 'county-civil-affairs', roles: ['supervisor' as const] };
const at = (iso: string) => {
  ctx.clock.current = new Date(iso);
};
const day = (d: string) => at(`${d}T01:30:00Z`);

async function send(user: string, id: string, type: string, data: object = {}) {
  const client = await ctx.as(user);
  const { version } = (await client.get(`/api/cases/${id}`)).json();
  const res = await client.post(`/api/cases/${id}/events`, { type, data, expectedVersion: version });
  expect(res.statusCode, `${type}: ${res.body}`).toBe(200);
}

/** An event the later work (好差评, 整改, 回访) will write, appended as that work would. */
async function serviceEvent(caseId: string, seq: number, type: string, payload: object, iso: string) {
  await ctx.database.db('case_events').insert({
    case_id: caseId,
    seq,
    type,
    payload: JSON.stringify(payload),
    actor_name: '测试',
    from_state: JSON.stringify('x'),
    to_state: JSON.stringify('x'),
    occurred_at: new Date(iso),
  });
}

let assistance: string;
let refused: string;

beforeAll(async () => {
  // 低保 in 西溪 (township confirmation): 公示 from 04-27 to 05-06 stops the clock; 审核确认 05-07.
  day('2026-04-27');
  const clerk = await ctx.as('clerk.xixi');
  assistance = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json().id;
  await send('clerk.xixi', assistance, 'ACCEPT');
  await send('verify.xihu', assistance, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true });
  await send('township.xixi', assistance, 'HOME_VISIT_COMPLETED', { visitors: ['周丽', '马超'], findings: '属实' });
  await send('township.xixi', assistance, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 60000 });
  day('2026-05-06');
  await send('township.xixi', assistance, 'PUBLIC_NOTICE_ENDED');
  day('2026-05-07');
  await send('township.xixi', assistance, 'APPROVE', { monthlyAmountFen: 60000, startMonth: '2026-05' });
  day('2026-05-08');
  await send('county.xihu', assistance, 'PAY_MONTH', { period: '2026-05' });

  // A case refused at the window in April, rated in June: it still counts in June's ratings.
  day('2026-04-28');
  refused = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json().id;
  await send('clerk.xixi', refused, 'REJECT_APPLICATION', { reason: '不符合条件' });
});


describe('the 月报告 read model', () => {
  it('a periodic benefit is decided at 审核确认, with 公示 excluded, and is no longer open while it is paid', async () => {
    day('2026-06-01');
    const may = await monthlyReport(ctx.engine, ctx.database.db, supervisor, { month: '2026-05' });
    // 04-27 → 05-07: 5 working days (05-01…05-05 are holidays), 4 of them during 公示: 1 WD.
    expect(may.procedures.find((p) => p.procedureId === 'social-assistance')).toMatchObject({
      received: 0,
      completed: 1,
      completedOnTime: 1,
      open: 0,
      overdue: 0,
      avgHandlingWorkingDays: 1,
      p90HandlingWorkingDays: 1,
      ratings: null,
      followUpRate: null,
    });
    const april = await monthlyReport(ctx.engine, ctx.database.db, supervisor, { month: '2026-04' });
    expect(april.procedures.find((p) => p.procedureId === 'social-assistance')).toMatchObject({ received: 2, accepted: 1, notAccepted: 1, completed: 1, open: 1, overdue: 0 });
  });

  it('reads ratings, 差评整改 and 回访 from the event log and tasks once they are recorded', async () => {
    await serviceEvent(assistance, 100, 'CASE_RATED', { level: 'verySatisfied' }, '2026-05-08T03:00:00Z');
    await serviceEvent(assistance, 101, 'CASE_RATED', { level: 'dissatisfied' }, '2026-05-09T03:00:00Z');
    await serviceEvent(assistance, 102, 'RECTIFICATION_DONE', {}, '2026-05-20T03:00:00Z');
    await serviceEvent(assistance, 103, 'FOLLOW_UP_DONE', { reached: true }, '2026-05-21T03:00:00Z');
    await ctx.database.db('tasks').insert({
      id: randomUUID(),
      case_id: assistance,
      procedure_id: 'social-assistance',
      region_code: '330106002',
      state_id: 'sa.rectification',
      title: '差评整改',
      department: 'county-civil-affairs',
      role: 'supervisor',
      actions: ['RECTIFICATION_DONE'],
      status: 'completed',
      opened_at: new Date('2026-05-09T03:00:00Z'),
      due_at: new Date('2026-05-29T15:59:59.999Z'),
      closed_at: new Date('2026-05-20T03:00:00Z'),
      outcome: 'RECTIFICATION_DONE',
    });
    await serviceEvent(refused, 100, 'CASE_RATED', { level: 'satisfied' }, '2026-06-02T03:00:00Z');

    const may = await monthlyReport(ctx.engine, ctx.database.db, supervisor, { month: '2026-05' });
    const ratings = { verySatisfied: 1, satisfied: 0, basicallySatisfied: 0, dissatisfied: 1, veryDissatisfied: 0, total: 2 };
    expect(may.totals).toMatchObject({ ratings, satisfactionRate: 0.5, rectificationsDone: 1, rectificationsOnTime: 1, followUpsDone: 1, followUpsReached: 1, followUpRate: 1 });
    // Procedures without any: zeros, not "not recorded"; the rate has no denominator.
    expect(may.procedures.find((p) => p.procedureId === 'funeral')).toMatchObject({ ratings: { total: 0 }, satisfactionRate: null, followUpsDone: 0, followUpRate: null });
    // Every department that worked on the case shares its ratings and 回访.
    const window = may.departments.find((d) => d.department === 'township-window')!;
    expect(window).toMatchObject({ ratings, followUpsDone: 1, followUpRate: 1 });
    const county = may.departments.find((d) => d.department === 'county-civil-affairs')!;
    expect(county).toMatchObject({ ratings, rectificationsDone: 1, rectificationsOnTime: 1 });

    day('2026-06-03');
    const june = await monthlyReport(ctx.engine, ctx.database.db, supervisor, { month: '2026-06' });
    expect(june.totals).toMatchObject({ ratings: { satisfied: 1, total: 1 }, satisfactionRate: 1, rectificationsDone: null, followUpsDone: null, followUpRate: null });
    // Another region's supervisor scope: nothing of 西溪 in 北山.
    const beishan = await monthlyReport(ctx.engine, ctx.database.db, supervisor, { month: '2026-05', regionCode: '330106001' });
    expect(beishan.totals).toMatchObject({ completed: 0, ratings: null });
  });

  it('uses an index its predicate matches in every statement', async () => {
    day('2026-06-03');
    const { db } = ctx.database;
    const captured: Array<{ sql: string; bindings: unknown[] }> = [];
    const listener = (q: { sql: string; bindings?: unknown[] }) => captured.push({ sql: q.sql, bindings: q.bindings ?? [] });
    db.on('query', listener);
    try {
      await monthlyReport(ctx.engine, db, supervisor, { month: '2026-05' });
    } finally {
      db.off('query', listener);
    }
    const offenders = await wholeScanOffenders(
      db,
      captured.filter(({ sql }) => !/calendar_/.test(sql) && !/from "regions"/.test(sql)),
      ['cases', 'tasks', 'timers', 'case_events'],
    );
    expect(captured.filter((c) => /from "(cases|case_events|tasks)"/.test(c.sql))).toHaveLength(4);
    // Every statement, the month's service events (ratings, 整改, 回访) included, uses an index.
    expect(offenders).toEqual([]);
  });
});

describe('the arithmetic', () => {
  it('p90 by nearest rank', () => {
    expect(p90([])).toBeNull();
    expect(p90([5])).toBe(5);
    expect(p90([0, 6, 12, 17])).toBe(17);
    expect(p90([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe(9);
    expect(p90([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])).toBe(9);
  });

  it('month bounds in China time', () => {
    expect(monthBounds('2026-03')).toEqual({ from: new Date('2026-02-28T16:00:00Z'), until: new Date('2026-03-31T15:59:59.999Z') });
    expect(monthBounds('2026-12')).toEqual({ from: new Date('2026-11-30T16:00:00Z'), until: new Date('2026-12-31T15:59:59.999Z') });
  });

  it('reads the active states of a stored state value from the chart itself', () => {
    const def = procedureDefinitions.find((d) => d.id === 'social-assistance')!;
    expect(leavesOf(def, 'supplement')).toEqual([expect.objectContaining({ final: false, meta: expect.objectContaining({ clockStopped: true }) })]);
    const paying = leavesOf(def, { handling: { assistance: 'paying', medicalAssistance: 'routing', educationAssistance: 'granted' } });
    expect(paying.map((l) => [l.meta.stage, l.final, !!l.meta.task])).toEqual([
      ['已发放（按月发放中）', false, true],
      ['未转办医疗救助', false, false],
      ['教育救助已批准', true, false],
    ]);
  });
});
