import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.ts';

// 主动发现 (issue 9, docs/leads.md): "A lead becomes an urgent 临时救助 case linked to it." A grid
// worker's lead is reviewed by the township: converted (urgent → the urgent path at once),
// closed with a reason, or left to run past its review date, which the board and the 月报告 count.
const ctx = useTestApp();

const household = { headName: '李四海', headIdNumber: '11010519491231002X', phone: '13900139000', address: '北山街道曙光路8号', size: 4 };
const HOUR = 3_600_000;

async function register(urgency: 'urgent' | 'normal', situation = '户主因车祸住院，配偶无业，两名子女在读') {
  const res = await (await ctx.as('grid.beishan')).post('/api/leads', { household, situation, suggestedProcedure: 'temporary-assistance', urgency });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}
const township = () => ctx.as('township.beishan');
const board = async () => (await (await ctx.as('supervisor.xihu')).get('/api/supervision')).json().leads;
const month = () => new Date(ctx.clock.now().getTime() + 8 * HOUR).toISOString().slice(0, 7);
const report = async () => (await (await ctx.as('supervisor.xihu')).get(`/api/reports/monthly?month=${month()}`)).json().leads;

describe('主动发现 leads', () => {
  it('an urgent lead becomes an urgent 临时救助 case, linked both ways, with the personal data encrypted at rest', async () => {
    const lead = await register('urgent');
    // Reviewed within 1 working day (local): registered Monday 2026-03-02, due at the end of Tuesday.
    expect(lead.reviewDueAt).toBe('2026-03-03T15:59:59.999Z');
    const stored = await ctx.database.db('leads').where({ id: lead.id }).first();
    expect(stored.household.idNumber).toMatch(/^enc:v1:/);

    const res = await (await township()).post(`/api/leads/${lead.id}/convert`, { hardship: 'accident', requestedAmountFen: 500000, note: '网格员反映情况紧急' });
    expect(res.statusCode, res.body).toBe(200);
    const converted = res.json();

    // lead → case
    const linked = await ctx.database.db('leads').where({ id: lead.id }).first();
    expect(linked).toMatchObject({ status: 'converted', case_id: converted.caseId, reviewed_by_name: '北山街道社会救助 陈刚' });
    // case → lead, on the urgent path: 先行救助 by the township, the household as applicant.
    const row = await ctx.database.db('cases').where({ id: converted.caseId }).first();
    expect(row).toMatchObject({ procedure_id: 'temporary-assistance', region_code: '330106001', applicant_name: '李四海' });
    expect(row.applicant.idNumber).toMatch(/^enc:v1:/);
    const events = await ctx.database.db('case_events').where({ case_id: converted.caseId }).orderBy('seq');
    expect(events.map((e: any) => e.type)).toEqual(['CASE_OPENED', 'ACCEPT_URGENT']);
    expect(events[0].payload.leadId).toBe(lead.id);
    expect(events[1].actor_name).toBe('北山街道社会救助 陈刚（主动发现）');
    const view = (await (await township()).get(`/api/cases/${converted.caseId}`)).json();
    expect(view.openTasks.map((t: any) => [t.title, t.department])).toEqual([['先行救助发放', 'township-civil-affairs']]);
    expect(view.facts.urgent).toBe(true);
    expect(view.application.reason).toContain('户主因车祸住院');
    // The household is told, like any applicant: the acceptance notice with its tracking code.
    expect(Number((await ctx.database.db('outbox').where({ case_id: converted.caseId, kind: 'notice.accepted' }).count('* as n').first())!.n)).toBe(1);

    // The township pays first, as on any urgent case.
    const task = view.openTasks[0];
    expect((await (await township()).post(`/api/tasks/${task.id}/claim`)).statusCode).toBe(204);
    const paid = await (await township()).post(`/api/tasks/${task.id}/complete`, { outcome: 'URGENT_RELIEF_PAID', data: { amountFen: 200000 } });
    expect(paid.statusCode, paid.body).toBe(200);
  });

  it('a normal lead converted waits at the window\'s 受理 like any application', async () => {
    const lead = await register('normal', '老人独居，行动不便，收入来源不明');
    const res = await (await township()).post(`/api/leads/${lead.id}/convert`, { hardship: 'other', requestedAmountFen: 100000 });
    expect(res.statusCode, res.body).toBe(200);
    const view = (await (await ctx.as('clerk.beishan')).get(`/api/cases/${res.json().caseId}`)).json();
    expect(view.openTasks.map((t: any) => t.department)).toEqual(['township-window']);
    expect(view.facts.urgent).toBe(false);
  });

  it('a normal lead is closed with its reason and cannot be converted afterwards; no case is opened', async () => {
    const lead = await register('normal', '邻居反映家庭困难，经了解已有稳定收入');
    expect(lead.reviewDueAt).toBe('2026-03-09T15:59:59.999Z'); // 5 working days from Monday 2 March
    const casesBefore = Number((await ctx.database.db('cases').count('* as n').first())!.n);
    const closed = await (await township()).post(`/api/leads/${lead.id}/close`, { reason: '经入户核实，家庭有稳定工资收入，不符合救助条件' });
    expect(closed.statusCode, closed.body).toBe(200);
    expect(closed.json()).toMatchObject({ status: 'closed', closeReason: '经入户核实，家庭有稳定工资收入，不符合救助条件', reviewedBy: '北山街道社会救助 陈刚', caseId: null });
    const convert = await (await township()).post(`/api/leads/${lead.id}/convert`, { hardship: 'other', requestedAmountFen: 1 });
    expect(convert.statusCode).toBe(409);
    expect(convert.json().code).toBe('LEAD_NOT_OPEN');
    expect(Number((await ctx.database.db('cases').count('* as n').first())!.n)).toBe(casesBefore);
    // The grid worker sees the outcome of their lead.
    expect((await (await ctx.as('grid.beishan')).get(`/api/leads/${lead.id}`)).json().closeReason).toContain('稳定工资收入');
  });

  it('a close racing a convert: exactly one wins', async () => {
    const lead = await register('urgent');
    const t = await township();
    const [a, b] = await Promise.all([t.post(`/api/leads/${lead.id}/close`, { reason: '重复登记' }), t.post(`/api/leads/${lead.id}/convert`, { hardship: 'illness', requestedAmountFen: 1000 })]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    const row = await ctx.database.db('leads').where({ id: lead.id }).first();
    expect(row.status === 'converted').toBe(!!row.case_id);
  });

  it('an overdue review is counted on the board and in the 月报告, and leaves the board once reviewed', async () => {
    const before = await board();
    const reportBefore = await report();
    const lead = await register('urgent', '独居老人家中断粮，需尽快核实');
    expect(await board()).toMatchObject({ open: before.open + 1, overdue: before.overdue });
    expect((await report()).registered).toBe(reportBefore.registered + 1);

    // Past the end of Tuesday: overdue, on the board and in the list behind its number.
    ctx.clock.advance(2 * 24 * HOUR);
    const late = await board();
    expect(late.overdue).toBeGreaterThanOrEqual(before.overdue + 1);
    const overdueList = (await (await township()).get(late.list.overdue)).json();
    expect(overdueList.items.find((l: any) => l.id === lead.id)).toMatchObject({ overdue: true, status: 'open' });
    expect((await report()).overdue).toBeGreaterThanOrEqual(1);

    const closed = await (await township()).post(`/api/leads/${lead.id}/close`, { reason: '已由亲属接回照顾' });
    expect(closed.statusCode).toBe(200);
    const after = await board();
    expect(after.overdue).toBe(late.overdue - 1);
    expect(after.closed).toBe(late.closed + 1);
    // Reviewed late: still overdue in the month's figures.
    const r = await report();
    expect(r.overdue).toBeGreaterThanOrEqual(1);
    expect(r.closed).toBeGreaterThanOrEqual(1);
  });
});
