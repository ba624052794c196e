import { describe, expect, it } from 'vitest';
import { useTestApp, type Client } from '../support/app.ts';

// 主动发现 over HTTP: who may register, read and review leads; region rules; masked personal
// data; authorization before the body is read.
const ctx = useTestApp();

const household = { headName: '张三丰', headIdNumber: '330106198001010013', phone: '13800138000', address: '北山街道葛岭路1号', size: 3 };
const lead = (over: Record<string, unknown> = {}) => ({ household, situation: '户主突发重病住院，家中无其他收入', suggestedProcedure: 'temporary-assistance', urgency: 'urgent', ...over });

async function register(grid: Client, over: Record<string, unknown> = {}) {
  const res = await grid.post('/api/leads', lead(over));
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

describe('leads API', () => {
  it('lets only grid workers register, and answers 403 to anyone else whatever the body', async () => {
    for (const username of ['clerk.beishan', 'township.beishan', 'supervisor.xihu', 'admin.xihu']) {
      const client = await ctx.as(username);
      for (const payload of ['{"household":{"$ne":1}}', '[]', '{']) {
        const res = await ctx.app.inject({ method: 'POST', url: '/api/leads', headers: { authorization: `Bearer ${client.token}`, 'content-type': 'application/json' }, payload });
        expect(res.statusCode, `${username} ${payload}`).toBe(403);
        expect(res.json().code).toBe('ROLE_REQUIRED');
      }
    }
    for (const url of ['/api/leads/00000000-0000-4000-8000-000000000000/close', '/api/leads/not-an-id/convert']) {
      const grid = await ctx.as('grid.beishan');
      const res = await ctx.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${grid.token}`, 'content-type': 'application/json' }, payload: '{' });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().code).toBe('ROLE_REQUIRED');
    }
  });

  it('validates a grid worker\'s lead field by field, in Chinese', async () => {
    const grid = await ctx.as('grid.beishan');
    const res = await grid.post('/api/leads', lead({ household: { ...household, headIdNumber: '330106198001010014', size: 0 }, urgency: 'soon' }));
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('VALIDATION_FAILED');
    const paths = res.json().details.map((d: any) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.household.headIdNumber', 'body.household.size', 'body.urgency']));
    expect(JSON.stringify(res.json().details)).toContain('身份证号码');
  });

  it('masks personal data in the list and in one lead, and keeps leads to their region', async () => {
    const grid = await ctx.as('grid.beishan');
    const created = await register(grid, { urgency: 'normal' });
    expect(created.household).toEqual({ headName: '张*丰', headIdNumber: expect.not.stringContaining('19800101'), phone: '138****8000', address: household.address, size: 3 });
    expect(created.status).toBe('open');
    expect(created.reviewDueAt).not.toBeNull();

    const township = await ctx.as('township.beishan');
    const list = (await township.get('/api/leads?status=open')).json();
    expect(list.items.map((l: any) => l.id)).toContain(created.id);
    expect(JSON.stringify(list)).not.toContain('330106198001010013');
    expect(JSON.stringify(list)).not.toContain('13800138000');
    expect(JSON.stringify(list)).not.toContain('张三丰');

    // The other township sees neither the lead in its list nor the lead itself, and cannot review it.
    const xixi = await ctx.as('township.xixi');
    expect((await xixi.get('/api/leads')).json().items.map((l: any) => l.id)).not.toContain(created.id);
    expect((await xixi.get(`/api/leads/${created.id}`)).statusCode).toBe(404);
    expect((await xixi.post(`/api/leads/${created.id}/close`, { reason: '不属于本街道' })).statusCode).toBe(404);
    // Nor does the other township's grid worker; the county supervisor does.
    expect((await (await ctx.as('grid.xixi')).get(`/api/leads/${created.id}`)).statusCode).toBe(404);
    expect((await (await ctx.as('supervisor.xihu')).get(`/api/leads/${created.id}`)).statusCode).toBe(200);
    // Reviewers of other departments and clerks may not read leads at all.
    const county = await ctx.as('verify.xihu');
    expect((await county.get('/api/leads')).json().code).toBe('NOT_PERMITTED');
    expect((await (await ctx.as('clerk.beishan')).get('/api/leads')).statusCode).toBe(403);
    // A county reviewer of another department may not review it.
    const closeByCounty = await county.post(`/api/leads/${created.id}/close`, { reason: '越权' });
    expect(closeByCounty.statusCode).toBe(403);
    expect(closeByCounty.json().code).toBe('NOT_YOUR_DEPARTMENT');
  });

  it('shows a grid worker only their own leads, filtered by urgency', async () => {
    const grid = await ctx.as('grid.beishan');
    const urgent = await register(grid, { urgency: 'urgent' });
    const mine = (await grid.get('/api/leads?urgency=urgent')).json();
    expect(mine.items.length).toBeGreaterThan(0);
    expect(mine.items.every((l: any) => l.urgency === 'urgent')).toBe(true);
    expect(mine.items.map((l: any) => l.id)).toContain(urgent.id);
    expect((await (await ctx.as('grid.xixi')).get('/api/leads')).json().items).toEqual([]);
  });

  it('converts an urgent lead into an urgent 临时救助 case, and refuses to review it twice', async () => {
    const grid = await ctx.as('grid.beishan');
    const created = await register(grid, { urgency: 'urgent' });
    const township = await ctx.as('township.beishan');
    const converted = await township.post(`/api/leads/${created.id}/convert`, { hardship: 'illness', requestedAmountFen: 300000 });
    expect(converted.statusCode, converted.body).toBe(200);
    const body = converted.json();
    expect(body.status).toBe('converted');
    expect(body.caseReference).toMatch(/^LS-330106001-/);

    const view = (await township.get(`/api/cases/${body.caseId}`)).json();
    expect(view.procedureId).toBe('temporary-assistance');
    expect(view.history.map((h: any) => h.type)).toEqual(['CASE_OPENED', 'ACCEPT_URGENT']);
    expect(view.history[0].payload.leadId).toBe(created.id);
    expect(view.openTasks.map((t: any) => t.title)).toEqual(['先行救助发放']);

    const again = await township.post(`/api/leads/${created.id}/close`, { reason: '重复' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('LEAD_NOT_OPEN');
    // The grid worker follows the lead to its case reference.
    expect((await grid.get(`/api/leads/${created.id}`)).json()).toMatchObject({ status: 'converted', caseReference: body.caseReference });
  });

  it('puts the month\'s leads in the 月报告 CSV, after the department lines', async () => {
    const supervisor = await ctx.as('supervisor.xihu');
    const json = (await supervisor.get('/api/reports/monthly?month=2026-03')).json();
    expect(json.leads.registered).toBeGreaterThanOrEqual(3);
    const csv = (await supervisor.get('/api/reports/monthly.csv?month=2026-03')).rawPayload.toString('utf8').trim().split('\r\n');
    expect(csv.slice(-4)).toEqual([
      `主动发现线索,登记线索数,${json.leads.registered}`,
      `主动发现线索,转为救助申请数,${json.leads.converted}`,
      `主动发现线索,审核关闭数,${json.leads.closed}`,
      `主动发现线索,审核超期数,${json.leads.overdue}`,
    ]);
    expect(json.leads.converted).toBe(1);
  });
});
