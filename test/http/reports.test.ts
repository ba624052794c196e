import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 9, 月报告: a month of cases across two townships (330106001 北山, 330106002 西溪) built
// through the API with the injected clock, and every figure checked against values computed by
// hand (below, next to each case). The CSV and XLSX downloads hold the same numbers, and March's
// report does not change when its cases move on in April.
const ctx = useTestApp();

const at = (iso: string) => {
  ctx.clock.current = new Date(iso);
};
/** 09:30 China time on a day. */
const day = (d: string) => at(`${d}T01:30:00Z`);

const funeralApplication = {
  deceased: { name: '李四', idNumber: '11010519491231002X', dateOfDeath: '2026-02-25' },
  relationship: '子女',
  branches: { pension: false, medicalInsurance: false, housingFund: false, socialSecurityCard: false },
};

async function open(clerk: string, procedureId = 'funeral'): Promise<string> {
  const res = await (await ctx.as(clerk)).post('/api/cases', { procedureId, applicant, application: procedureId === 'funeral' ? funeralApplication : application });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

async function send(user: string, id: string, type: string, data: object = {}) {
  const client = await ctx.as(user);
  const { version } = (await client.get(`/api/cases/${id}`)).json();
  const res = await client.post(`/api/cases/${id}/events`, { type, data, expectedVersion: version });
  expect(res.statusCode, `${type}: ${res.body}`).toBe(200);
}

/** The three funeral branches that always apply (户口注销, 火化证明, 殡葬补贴): the case is then complete. */
async function finishFuneral(id: string) {
  await send('police.xihu', id, 'HOUSEHOLD_DONE');
  await send('funeralhome.xihu', id, 'CREMATION_DONE');
  await send('county.xihu', id, 'FUNERAL_SUBSIDY_DONE');
}

const cases: Record<string, string> = {};

const report = async (query: string, user = 'supervisor.xihu') => {
  const res = await (await ctx.as(user)).get(`/api/reports/monthly?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};

beforeAll(async () => {
  // 身后一件事: 15 working days in total. 2026-02-28 (Saturday) is a make-up working day.
  day('2026-02-27');
  cases.F0 = await open('clerk.beishan'); // before the month, never finished: overdue at its end (23 WD used)
  await send('clerk.beishan', cases.F0, 'ACCEPT');

  day('2026-03-02');
  cases.A = await open('clerk.beishan'); // finished 03-10: 6 WD, on time
  await send('clerk.beishan', cases.A, 'ACCEPT');
  cases.B = await open('clerk.beishan'); // 补正 03-03 → 03-09, finished 03-24: 16 WD − 4 paused = 12, on time
  cases.C = await open('clerk.xixi'); // finished 03-25: 17 WD, late
  await send('clerk.xixi', cases.C, 'ACCEPT');

  day('2026-03-03');
  await send('clerk.beishan', cases.B, 'REQUEST_SUPPLEMENT', { missingMaterials: ['death-certificate'] });
  cases.D = await open('clerk.xixi'); // not accepted the same day: finished, 0 WD, on time
  await send('clerk.xixi', cases.D, 'REJECT_APPLICATION', { reason: '不属于本辖区' });

  day('2026-03-04');
  cases.E = await open('clerk.xixi'); // open at the month end, 19 WD used: overdue
  await send('clerk.xixi', cases.E, 'ACCEPT');

  day('2026-03-05');
  cases.S = await open('clerk.beishan', 'social-assistance'); // 低保 (30 WD): open, 18 WD used, not overdue
  await send('clerk.beishan', cases.S, 'ACCEPT');

  day('2026-03-09');
  await send('clerk.beishan', cases.B, 'SUPPLEMENT_RECEIVED');
  await send('clerk.beishan', cases.B, 'ACCEPT');

  day('2026-03-10');
  await finishFuneral(cases.A);
  day('2026-03-24');
  await finishFuneral(cases.B);
  day('2026-03-25');
  await finishFuneral(cases.C);

  day('2026-03-30');
  cases.G = await open('clerk.beishan'); // open, 1 WD used
  await send('clerk.beishan', cases.G, 'ACCEPT');

  day('2026-04-01');
});

const NOT_RECORDED = {
  ratings: null,
  satisfactionRate: null,
  rectificationsDone: null,
  rectificationsOnTime: null,
  followUpsDone: null,
  followUpsReached: null,
  followUpRate: null,
};

const FUNERAL_MARCH = {
  received: 6, // A B C D E G
  accepted: 5, // A B C E G (F0 was accepted in February)
  notAccepted: 1, // D
  completed: 4, // A B C D
  completedOnTime: 3, // A B D
  onTimeRate: 0.75,
  open: 3, // F0 E G
  overdue: 2, // F0 E
  avgHandlingWorkingDays: 8.8, // (6 + 12 + 17 + 0) / 4 = 8.75
  p90HandlingWorkingDays: 17, // nearest rank: the 4th of 4
  supplemented: 1, // B
  supplementRate: 0.1667,
  ...NOT_RECORDED,
};

describe('月报告 (monthly report)', () => {
  let march: any;
  beforeAll(async () => {
    march = await report('month=2026-03');
  });

  it('counts cases per procedure with the statutory on-time rule, clock-stopped 补正 excluded', () => {
    expect(march).toMatchObject({ month: '2026-03', regionCode: '330106', final: true, from: '2026-02-28T16:00:00.000Z', asOf: '2026-03-31T15:59:59.999Z' });
    const funeral = march.procedures.find((p: any) => p.procedureId === 'funeral');
    expect(funeral).toEqual({ procedureId: 'funeral', procedureName: '身后一件事（逝者相关事项联办）', ...FUNERAL_MARCH });
    const assistance = march.procedures.find((p: any) => p.procedureId === 'social-assistance');
    expect(assistance).toMatchObject({ received: 1, accepted: 1, completed: 0, onTimeRate: null, open: 1, overdue: 0, avgHandlingWorkingDays: null, p90HandlingWorkingDays: null, supplementRate: 0 });
    expect(march.procedures.find((p: any) => p.procedureId === 'marriage')).toMatchObject({ received: 0, completed: 0, open: 0, onTimeRate: null, supplementRate: null });
    expect(march.totals).toEqual({
      ...FUNERAL_MARCH,
      received: 7,
      accepted: 6,
      open: 4,
      supplementRate: 0.1429,
    });
  });

  it('counts each department’s steps: received, completed, on time by the step limit, overdue at the month end', () => {
    const dept = (id: string) => march.departments.find((d: any) => d.department === id);
    // The window: acceptance of A B C D E G S, B's 补正 notice and B's second acceptance. 补正 (CD 30) and
    // acceptance (WD 5) all on time; handling: B's first acceptance 1 WD, its 补正 step 4 WD, the rest 0.
    expect(dept('township-window')).toEqual({
      department: 'township-window',
      departmentName: '乡镇（街道）便民服务窗口',
      received: 9,
      accepted: 6,
      notAccepted: 1,
      completed: 9,
      completedOnTime: 9,
      onTimeRate: 1,
      open: 0,
      overdue: 0,
      avgHandlingWorkingDays: 0.6,
      p90HandlingWorkingDays: 4,
      supplemented: 1,
      supplementRate: 0.1111,
      ...NOT_RECORDED,
    });
    // 户口注销 (2 WD): A 6, B 11, C 17 — all late; F0 and E overdue, G (due 04-01) not yet.
    expect(dept('public-security')).toMatchObject({ received: 5, completed: 3, completedOnTime: 0, onTimeRate: 0, open: 3, overdue: 2, avgHandlingWorkingDays: 11.3, p90HandlingWorkingDays: 17, supplementRate: 0 });
    // 殡葬补贴 (10 WD): only A on time.
    expect(dept('county-civil-affairs')).toMatchObject({ received: 5, completed: 3, completedOnTime: 1, onTimeRate: 0.3333, open: 3, overdue: 2 });
    // S's 信息核对 and 入户调查 opened 03-05, 18 WD used of 10: overdue.
    expect(dept('county-verification')).toMatchObject({ received: 1, completed: 0, open: 1, overdue: 1, avgHandlingWorkingDays: null });
    expect(march.departments.map((d: any) => d.department)).toEqual(['township-window', 'township-civil-affairs', 'county-verification', 'county-civil-affairs', 'public-security', 'funeral-home']);
  });

  it('covers one township alone', async () => {
    const beishan = await report('month=2026-03&region=330106001');
    expect(beishan.regionName).toBeTruthy();
    expect(beishan.procedures.find((p: any) => p.procedureId === 'funeral')).toMatchObject({
      received: 3, // A B G
      accepted: 3,
      notAccepted: 0,
      completed: 2,
      completedOnTime: 2,
      onTimeRate: 1,
      open: 2, // F0 G
      overdue: 1, // F0
      avgHandlingWorkingDays: 9,
      p90HandlingWorkingDays: 12,
      supplemented: 1,
      supplementRate: 0.3333,
    });
  });

  it('the CSV (UTF-8 with BOM, Chinese headers) and the XLSX hold the same numbers', async () => {
    const client = await ctx.as('supervisor.xihu');
    const csv = await client.get('/api/reports/monthly.csv?month=2026-03');
    expect(csv.statusCode, csv.body).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    const disposition = String(csv.headers['content-disposition']);
    expect(disposition).toMatch(/^attachment; filename="monthly-report-330106-2026-03\.csv"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("UTF-8''")[1])).toBe('月报告-330106-2026-03.csv');
    expect(csv.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const lines = csv.rawPayload.toString('utf8').replace(/^\uFEFF/, '').trim().split('\r\n').map((l) => l.split(','));
    const header = lines[0];
    expect(header.slice(0, 6)).toEqual(['类别', '名称', '收件数', '受理数', '不予受理数', '办结数']);
    const cell = (row: string[], name: string) => row[header.indexOf(name)];
    const total = lines.find((l) => l[0] === '合计')!;
    const funeral = lines.find((l) => l[1] === '身后一件事（逝者相关事项联办）')!;
    for (const [row, expected] of [
      [total, march.totals],
      [funeral, FUNERAL_MARCH],
    ] as const) {
      expect(cell(row, '收件数')).toBe(String(expected.received));
      expect(cell(row, '受理数')).toBe(String(expected.accepted));
      expect(cell(row, '办结数')).toBe(String(expected.completed));
      expect(cell(row, '按时办结数')).toBe(String(expected.completedOnTime));
      expect(cell(row, '按时办结率')).toBe('75.0%');
      expect(cell(row, '月末超期数')).toBe('2');
      expect(cell(row, '平均办理时长（工作日）')).toBe('8.8');
      expect(cell(row, 'P90办理时长（工作日）')).toBe('17');
      expect(cell(row, '满意率')).toBe('—');
      expect(cell(row, '回访率')).toBe('—');
    }
    expect(cell(total, '补正率')).toBe('14.3%');
    expect(lines.filter((l) => l[0] === '部门').map((l) => l[1])).toEqual(march.departments.map((d: any) => d.departmentName));

    const xlsx = await client.get('/api/reports/monthly.xlsx?month=2026-03');
    expect(xlsx.statusCode).toBe(200);
    expect(xlsx.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(decodeURIComponent(String(xlsx.headers['content-disposition']).split("UTF-8''")[1])).toBe('月报告-330106-2026-03.xlsx');
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(xlsx.rawPayload as any);
    const sheet = book.getWorksheet('月报告')!;
    const rows: unknown[][] = [];
    sheet.eachRow((r) => rows.push((r.values as unknown[]).slice(1)));
    const xHeader = rows.find((r) => r[0] === '类别') as string[];
    expect(xHeader).toEqual(header);
    const xTotal = rows.find((r) => r[0] === '合计')!;
    const xCell = (name: string) => xTotal[xHeader.indexOf(name)];
    expect(xCell('收件数')).toBe(7);
    expect(xCell('办结数')).toBe(4);
    expect(xCell('按时办结率')).toBe(0.75);
    expect(xCell('平均办理时长（工作日）')).toBe(8.8);
    expect(xCell('补正率')).toBe(0.1429);
    expect(xCell('评价总数')).toBe('—');
    // Every CSV line has its XLSX row with the same figures.
    const xData = rows.slice(rows.indexOf(xHeader) + 1);
    expect(xData).toHaveLength(lines.length - 1);
    xData.forEach((r, i) => {
      const fromCsv = lines[i + 1];
      r.forEach((v, j) => {
        if (typeof v === 'number' && fromCsv[j].endsWith('%')) expect(`${(Math.round(v * 1000) / 10).toFixed(1)}%`).toBe(fromCsv[j]);
        else expect(String(v)).toBe(fromCsv[j]);
      });
    });
  });

  it('a past month does not change when its cases move on', async () => {
    day('2026-04-02');
    await finishFuneral(cases.E);
    await finishFuneral(cases.G);
    await send('clerk.beishan', cases.F0, 'WITHDRAW', { reason: '申请人主动撤回' });
    await send('clerk.xixi', await open('clerk.xixi'), 'ACCEPT');
    expect(await report('month=2026-03')).toEqual(march);

    // The running month counts them, as of now.
    const april = await report('month=2026-04');
    expect(april).toMatchObject({ final: false, asOf: '2026-04-02T01:30:00.000Z' });
    expect(april.procedures.find((p: any) => p.procedureId === 'funeral')).toMatchObject({ received: 1, accepted: 1, completed: 3, completedOnTime: 1, open: 1, overdue: 0 });
  });

  it('refuses other roles, other regions, unknown regions, malformed and future months', async () => {
    const supervisor = await ctx.as('supervisor.xihu');
    const expectError = async (res: { statusCode: number; json(): any }, status: number, code: string) => {
      expect(res.statusCode).toBe(status);
      expect(res.json().code).toBe(code);
      expect(res.json().message).toMatch(/[\u4e00-\u9fff]/);
    };
    await expectError(await (await ctx.as('clerk.beishan')).get('/api/reports/monthly?month=2026-03'), 403, 'ROLE_REQUIRED');
    await expectError(await (await ctx.as('county.xihu')).get('/api/reports/monthly.csv?month=2026-03'), 403, 'ROLE_REQUIRED');
    await expectError(await supervisor.get('/api/reports/monthly?month=2026-03&region=330107'), 403, 'NOT_PERMITTED');
    await expectError(await supervisor.get('/api/reports/monthly?month=2026-03&region=330106999'), 404, 'NOT_FOUND');
    await expectError(await supervisor.get('/api/reports/monthly?month=2026-13'), 422, 'VALIDATION_FAILED');
    await expectError(await supervisor.get('/api/reports/monthly?month=2026-3'), 422, 'VALIDATION_FAILED');
    await expectError(await supervisor.get('/api/reports/monthly'), 422, 'VALIDATION_FAILED');
    await expectError(await supervisor.get('/api/reports/monthly?month=2026-05'), 422, 'REPORT_MONTH_IN_FUTURE');
    await expectError(await supervisor.get('/api/reports/monthly.xlsx?month=2026-05'), 422, 'REPORT_MONTH_IN_FUTURE');
    // Admins may read it too.
    expect((await (await ctx.as('admin.xihu')).get('/api/reports/monthly?month=2026-03')).statusCode).toBe(200);
  });
});
