import { RATING_LABELS, RATING_LEVELS, type MonthlyReport, type ReportRow } from '../../engine/queries/monthlyReport.ts';

/**
 * The 月报告 as files people open: CSV (UTF-8 with a BOM, so Excel reads the Chinese) and XLSX
 * (exceljs). Both hold the same table as the JSON: one row per procedure, the total, then one row
 * per department; headers in Chinese. A figure not yet recorded (null) is "—"; rates are
 * percentages with one decimal in the CSV and numbers with a percent format in the XLSX.
 */

type Kind = 'count' | 'rate' | 'days';
interface Column {
  header: string;
  kind: Kind;
  value: (r: ReportRow) => number | null;
}

export const COLUMNS: Column[] = [
  { header: '收件数', kind: 'count', value: (r) => r.received },
  { header: '受理数', kind: 'count', value: (r) => r.accepted },
  { header: '不予受理数', kind: 'count', value: (r) => r.notAccepted },
  { header: '办结数', kind: 'count', value: (r) => r.completed },
  { header: '按时办结数', kind: 'count', value: (r) => r.completedOnTime },
  { header: '按时办结率', kind: 'rate', value: (r) => r.onTimeRate },
  { header: '月末在办数', kind: 'count', value: (r) => r.open },
  { header: '月末超期数', kind: 'count', value: (r) => r.overdue },
  { header: '平均办理时长（工作日）', kind: 'days', value: (r) => r.avgHandlingWorkingDays },
  { header: 'P90办理时长（工作日）', kind: 'days', value: (r) => r.p90HandlingWorkingDays },
  { header: '补正件数', kind: 'count', value: (r) => r.supplemented },
  { header: '补正率', kind: 'rate', value: (r) => r.supplementRate },
  ...RATING_LEVELS.map((l): Column => ({ header: `评价：${RATING_LABELS[l]}`, kind: 'count', value: (r) => r.ratings?.[l] ?? null })),
  { header: '评价总数', kind: 'count', value: (r) => r.ratings?.total ?? null },
  { header: '满意率', kind: 'rate', value: (r) => r.satisfactionRate },
  { header: '差评整改完成数', kind: 'count', value: (r) => r.rectificationsDone },
  { header: '差评整改按时完成数', kind: 'count', value: (r) => r.rectificationsOnTime },
  { header: '回访数', kind: 'count', value: (r) => r.followUpsDone },
  { header: '回访联系上数', kind: 'count', value: (r) => r.followUpsReached },
  { header: '回访率', kind: 'rate', value: (r) => r.followUpRate },
];

export const LEAD_HEADERS = ['类别', '名称'];
export const NOT_RECORDED = '—';

/** Every line of the table: [category, name, row]. */
function lines(report: MonthlyReport): Array<[string, string, ReportRow]> {
  return [
    ...report.procedures.map((p): [string, string, ReportRow] => ['事项', p.procedureName, p]),
    ['合计', '全部事项', report.totals],
    ...report.departments.map((d): [string, string, ReportRow] => ['部门', d.departmentName, d]),
  ];
}

/** The 主动发现 section after the table (docs/leads.md): [category, name, count], in both files alike. */
export const LEAD_CATEGORY = '主动发现线索';
function leadLines(report: MonthlyReport): Array<[string, string, number]> {
  const l = report.leads;
  return [
    [LEAD_CATEGORY, '登记线索数', l.registered],
    [LEAD_CATEGORY, '转为救助申请数', l.converted],
    [LEAD_CATEGORY, '审核关闭数', l.closed],
    [LEAD_CATEGORY, '审核超期数', l.overdue],
  ];
}

const csvCell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function shown(kind: Kind, v: number | null): string {
  if (v === null) return NOT_RECORDED;
  if (kind === 'rate') return `${(Math.round(v * 1000) / 10).toFixed(1)}%`;
  return String(v);
}

export function reportTitle(report: MonthlyReport): string {
  return `${report.regionName}（${report.regionCode}）${report.month} 月报告`;
}

export function toCsv(report: MonthlyReport): string {
  const out = [
    [...LEAD_HEADERS, ...COLUMNS.map((c) => c.header)],
    ...lines(report).map(([category, name, row]) => [category, name, ...COLUMNS.map((c) => shown(c.kind, c.value(row)))]),
    ...leadLines(report).map(([category, name, n]) => [category, name, String(n)]),
  ];
  return '\uFEFF' + out.map((cells) => cells.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

export async function toXlsx(report: MonthlyReport): Promise<Buffer> {
  // Loaded on the first download, not at start-up: exceljs alone costs a quarter second to load.
  const { default: ExcelJS } = await import('exceljs');
  const book = new ExcelJS.Workbook();
  book.creator = 'OneWindow 一窗通办';
  book.created = new Date(report.asOf);
  const sheet = book.addWorksheet('月报告');
  sheet.addRow([reportTitle(report)]);
  sheet.addRow([`统计截至 ${report.asOf}（北京时间月末）${report.final ? '' : '，本月尚未结束'}；“—”表示尚未记录`]);
  const header = sheet.addRow([...LEAD_HEADERS, ...COLUMNS.map((c) => c.header)]);
  header.font = { bold: true };
  for (const [category, name, row] of lines(report)) {
    const r = sheet.addRow([category, name, ...COLUMNS.map((c) => c.value(row) ?? NOT_RECORDED)]);
    COLUMNS.forEach((c, i) => {
      if (c.kind === 'rate' && c.value(row) !== null) r.getCell(i + 3).numFmt = '0.0%';
    });
  }
  for (const line of leadLines(report)) sheet.addRow(line);
  sheet.getColumn(2).width = 36;
  for (let i = 3; i <= COLUMNS.length + 2; i++) sheet.getColumn(i).width = 12;
  return Buffer.from(await book.xlsx.writeBuffer());
}

/** `attachment` with an ASCII fallback and the Chinese name RFC 5987-encoded. */
export function contentDisposition(report: MonthlyReport, ext: 'csv' | 'xlsx'): string {
  const name = `月报告-${report.regionCode}-${report.month}.${ext}`;
  return `attachment; filename="monthly-report-${report.regionCode}-${report.month}.${ext}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
