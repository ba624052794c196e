import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MONTH_PATTERN, RATING_LEVELS, monthlyReport } from '../../engine/queries/monthlyReport.ts';
import { actorOf } from '../auth.ts';
import { contentDisposition, toCsv, toXlsx } from '../reports/monthlyFiles.ts';
import { refusals } from '../schemas.ts';

const nullableCount = (what: string) => z.number().int().nullable().describe(`${what}; null: not yet recorded (shown as —)`);
const rateOf = (what: string) => z.number().nullable().describe(`${what}, a fraction 0–1 (4 decimals); null when its denominator is 0 or nothing is recorded`);

const rowShape = {
  received: z.number().int().describe('收件: cases opened in the month (procedures, totals); tasks opened (departments)'),
  accepted: z.number().int().describe('受理: ACCEPT / ACCEPT_URGENT events in the month'),
  notAccepted: z.number().int().describe('不予受理: REJECT_APPLICATION events in the month'),
  completed: z.number().int().describe('办结: cases decided in the month (final state, or only monthly payments left); tasks completed (departments)'),
  completedOnTime: z.number().int().describe('Completed within the statutory limit, clock-stopped time excluded (departments: by the step due date)'),
  onTimeRate: rateOf('completedOnTime / completed'),
  open: z.number().int().describe('在办 at asOf: cases (tasks) not yet decided (closed)'),
  overdue: z.number().int().describe('Of those, past their limit at asOf'),
  avgHandlingWorkingDays: z.number().nullable().describe('Mean handling time of the completed, in working days (1 decimal); null when none completed'),
  p90HandlingWorkingDays: z.number().int().nullable().describe('90th percentile (nearest rank) of the same'),
  supplemented: z.number().int().describe('补正: cases received in the month with a 补正 notice by asOf (departments: completed steps that ended in a 补正 notice)'),
  supplementRate: rateOf('supplemented / received (departments: / completed)'),
  ratings: z
    .object(Object.fromEntries([...RATING_LEVELS, 'total'].map((l) => [l, z.number().int()])) as Record<(typeof RATING_LEVELS)[number] | 'total', z.ZodNumber>)
    .nullable()
    .describe('CASE_RATED events in the month by level; null: not yet recorded (shown as —)'),
  satisfactionRate: rateOf('(verySatisfied + satisfied + basicallySatisfied) / total ratings'),
  rectificationsDone: nullableCount('差评整改 tasks completed in the month (RECTIFICATION_DONE)'),
  rectificationsOnTime: nullableCount('Of those, completed by their due date'),
  followUpsDone: nullableCount('回访 done in the month (FOLLOW_UP_DONE)'),
  followUpsReached: nullableCount('Of those, the applicant was reached'),
  followUpRate: rateOf('followUpsDone / cases completed in the month'),
};

const monthlyReportSchema = z
  .object({
    month: z.string().describe('YYYY-MM, China time'),
    regionCode: z.string(),
    regionName: z.string(),
    from: z.string().describe("The month's first instant (00:00 China time)"),
    until: z.string().describe("The month's last instant"),
    asOf: z.string().describe('The instant the figures are computed at: the month end, or now while the month runs'),
    final: z.boolean().describe('The month is over: the figures will not change'),
    procedures: z
      .array(z.object({ procedureId: z.string(), procedureName: z.string(), ...rowShape }))
      .describe('One row per procedure (every procedure, zeros included): figures over cases'),
    departments: z
      .array(z.object({ department: z.string(), departmentName: z.string(), ...rowShape }))
      .describe('One row per department with work in the month: figures over its tasks (steps); ratings and 回访 over the cases it worked on'),
    totals: z.object(rowShape).meta({ id: 'MonthlyReportRow' }).describe('All procedures: figures over cases'),
    leads: z
      .object({
        registered: z.number().int().describe('主动发现 leads registered in the month'),
        converted: z.number().int().describe('Converted into a case in the month'),
        closed: z.number().int().describe('Closed with a reason in the month'),
        overdue: z.number().int().describe('Reviews due in the month not done by their due date'),
      })
      .describe('主动发现 (docs/leads.md); also the last rows of the CSV/XLSX (category 主动发现线索)'),
  })
  .meta({ id: 'MonthlyReport' });

const querystring = z.object({
  month: z.string().regex(MONTH_PATTERN, '月份格式应为 YYYY-MM').describe('YYYY-MM (China time); not in the future'),
  region: z.string().regex(/^\d{6,12}$/, '地区代码应为6至12位数字').optional().describe("行政区划代码: the caller's region (default) or one below it"),
});

const REFUSALS = refusals('ROLE_REQUIRED', 'NOT_PERMITTED', 'NOT_FOUND', 'REPORT_MONTH_IN_FUTURE', 'CALENDAR_YEAR_MISSING');
const WHO = "Who: supervisors and admins, for their region and the regions below it (another region: 403 NOT_PERMITTED; an unknown one: 404). A month in the future: 422 REPORT_MONTH_IN_FUTURE. Rules: docs/reports.md.";

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const build = (actor: ReturnType<typeof actorOf>, q: z.infer<typeof querystring>) => monthlyReport(engine, db, actor, { month: q.month, regionCode: q.region });

  app.get(
    '/monthly',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        operationId: 'getMonthlyReport',
        tags: ['supervision'],
        summary: '月报告：按事项、按部门的收件、受理、办结、按时办结率、超期、办理时长、补正率、评价与回访',
        description:
          "The monthly report of a region and the regions below it: per procedure (cases) and per department (tasks) — received, accepted, not accepted, completed, completed on time (statutory limit, clock-stopped time excluded), on-time rate, open and overdue at the month's end, mean and p90 handling time in working days, 补正 rate, ratings by level and satisfaction rate, 差评整改 done on time, 回访 rate. " +
          'Computed from the event log and tasks as they stood at the month end, so a past month never changes. ' +
          WHO,
        querystring,
        response: { 200: monthlyReportSchema, ...REFUSALS },
      },
    },
    async (request) => build(actorOf(request), request.query),
  );

  app.get(
    '/monthly.csv',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        operationId: 'downloadMonthlyReportCsv',
        tags: ['supervision'],
        summary: '下载月报告（CSV）',
        description:
          'The same table as getMonthlyReport as CSV: UTF-8 with a byte-order mark (Excel opens the Chinese), Chinese headers, one line per procedure, the total, then per department; rates as percentages, — where not yet recorded. ' +
          "Content-Disposition: attachment, filename 月报告-<region>-<month>.csv (RFC 5987). " +
          WHO,
        querystring,
        response: {
          200: { description: 'The report as CSV', content: { 'text/csv': { schema: z.string().describe('CSV text (UTF-8, BOM)') } } },
          ...REFUSALS,
        },
      },
    },
    async (request, reply) => {
      const report = await build(actorOf(request), request.query);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', contentDisposition(report, 'csv'))
        .send(toCsv(report));
    },
  );

  app.get(
    '/monthly.xlsx',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        operationId: 'downloadMonthlyReportXlsx',
        tags: ['supervision'],
        summary: '下载月报告（Excel）',
        description:
          'The same table as getMonthlyReport as an Excel workbook (one sheet 月报告: title, the instant, then the table; rates as numbers formatted as percentages, — where not yet recorded). ' +
          "Content-Disposition: attachment, filename 月报告-<region>-<month>.xlsx (RFC 5987). " +
          WHO,
        querystring,
        response: {
          200: {
            description: 'The report as an XLSX workbook',
            content: { 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { schema: z.string().describe('XLSX file (binary)').meta({ format: 'binary' }) } },
          },
          ...REFUSALS,
        },
      },
    },
    async (request, reply) => {
      const report = await build(actorOf(request), request.query);
      return reply
        .header('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header('content-disposition', contentDisposition(report, 'xlsx'))
        // A Buffer is sent as is (no serializer); the schema above only documents the file.
        .send((await toXlsx(report)) as unknown as string);
    },
  );
};
export default routes;
