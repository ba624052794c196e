import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NATIONAL, getCalendarYear, listCalendarYears, replaceCalendarYear } from '../../db/calendars.ts';
import { listRecomputeJobs } from '../../db/calendarRecomputeJobs.ts';
import { enqueueAfterLoad } from '../../engine/calendarRecompute.ts';
import { nextYearStatus } from '../../engine/calendarStatus.ts';
import { DEPARTMENTS } from '../../../workflows/index.ts';
import { getRegion, listRegionsUnder } from '../../db/regions.ts';
import { DomainError, notFound } from '../../engine/errors.ts';
import type { Actor } from '../../engine/engine.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { refusals } from '../schemas.ts';

const day = z.iso.date('日期格式应为 YYYY-MM-DD');
const entry = z.strictObject({ date: day, name: z.string().trim().min(1).max(50) });
const yearParams = z.object({ year: z.coerce.number().int().min(2000).max(2100) });
const calendarYear = z
  .object({
    regionCode: z.string().describe("'CN' for the national calendar, else a region's adjustments"),
    year: z.number().int(),
    source: z.string(),
    loadedAt: z.string(),
    days: z.array(z.object({ day: z.string(), kind: z.enum(['holiday', 'workday']), name: z.string() })),
  })
  .meta({ id: 'CalendarYear' });

const calendarLoad = calendarYear
  .extend({
    recomputeJobId: z.string().describe('The background recompute of due dates this load queued (GET /api/admin/calendars shows its progress)'),
  })
  .meta({ id: 'CalendarLoad' });

const calendarOverview = z
  .object({
    today: z.string().describe('China-time date the overview was made on'),
    years: z.array(z.object({ regionCode: z.string(), year: z.number().int(), source: z.string(), loadedAt: z.string() })).describe('Loaded schedules, national and of the regions the caller manages'),
    nextYear: z
      .object({
        year: z.number().int(),
        loaded: z.boolean().describe('The national schedule of that year is loaded'),
        warning: z.boolean().describe('From 1 November (China time) while next year is not loaded: admins should load it'),
        message: z.string().nullable().describe('zh-CN warning to show while `warning`'),
        provisionalHolidays: z.array(z.object({ date: z.string(), name: z.string() })).describe('While not loaded: the provisional days off deadlines use (statutory holidays and 补假)'),
      })
      .meta({ id: 'CalendarNextYear' }),
    recomputeJobs: z.array(
      z
        .object({
          id: z.string(),
          regionCode: z.string(),
          year: z.number().int(),
          status: z.enum(['pending', 'done', 'failed']),
          casesSeen: z.number().int(),
          casesChanged: z.number().int(),
          createdAt: z.string(),
          finishedAt: z.string().nullable(),
          lastError: z.string().nullable(),
        })
        .meta({ id: 'CalendarRecomputeJob' }),
    ).describe('The latest deadline recomputes after calendar loads, newest first'),
  })
  .meta({ id: 'CalendarOverview' });

/**
 * An admin manages calendars of their own region and below; the national calendar ('CN') only
 * by an admin of a top-level region.
 */
async function assertMayManage(db: Parameters<typeof getRegion>[0], actor: Actor, regionCode: string): Promise<void> {
  if (!actor.roles.includes('admin')) throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅管理员可维护工作日历');
  if (regionCode === NATIONAL) {
    const own = await getRegion(db, actor.regionCode);
    if (own?.parent_code) throw new DomainError('forbidden', 'NOT_PERMITTED', '仅省级以上管理员可维护全国工作日历');
    return;
  }
  if (!regionCode.startsWith(actor.regionCode) || !(await getRegion(db, regionCode))) {
    throw new DomainError('forbidden', 'NOT_PERMITTED', '只能维护本辖区的工作日历');
  }
}

const regionList = z
  .object({
    items: z.array(
      z.object({
        code: z.string().describe('行政区划代码'),
        name: z.string(),
        parentCode: z.string().nullable(),
        depth: z.number().int().describe("0 for the caller's own region, 1 for the regions right below it, …"),
      }),
    ),
    nationalCalendar: z.boolean().describe("Whether the caller may load the national calendar ('CN'): an admin of a top-level region"),
  })
  .meta({ id: 'AdminRegions' });

const departmentList = z
  .object({
    items: z.array(
      z.object({
        id: z.string(),
        name: z.string().describe('zh-CN'),
        level: z.enum(['township', 'county']).describe('Where its staff sit: a township office or a county-level bureau'),
      }),
    ),
  })
  .meta({ id: 'Departments' });

/** The administration's own department (admins): no procedure task goes to it. */
const ADMINISTRATION = { id: 'administration', name: '系统管理', level: 'county' as const };

function assertAdmin(actor: Actor): void {
  if (!actor.roles.includes('admin')) throw new DomainError('forbidden', 'ROLE_REQUIRED', '仅管理员可使用管理功能');
}

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.get(
    '/regions',
    {
      config: { roles: ['admin'] },
      schema: {
        operationId: 'listAdminRegions',
        tags: ['admin'],
        summary: '本管理员可管理的地区（本辖区及下级）',
        description:
          "The caller's own region and every region below it, by code — the regions a user can be created in and whose calendar adjustments the caller loads — and whether the caller may load the national calendar. Who: admins.",
        response: { 200: regionList, ...refusals('ROLE_REQUIRED') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      assertAdmin(actor);
      const own = await getRegion(db, actor.regionCode);
      const rows = await listRegionsUnder(db, actor.regionCode);
      const depthOf = new Map<string, number>();
      const items = rows.map((r) => {
        const depth = r.code === actor.regionCode ? 0 : (depthOf.get(r.parent_code ?? '') ?? 0) + 1;
        depthOf.set(r.code, depth);
        return { code: r.code, name: r.name, parentCode: r.parent_code, depth };
      });
      return { items, nationalCalendar: Boolean(own) && !own?.parent_code };
    },
  );

  app.get(
    '/departments',
    {
      config: { roles: ['admin'] },
      schema: {
        operationId: 'listDepartments',
        tags: ['admin'],
        summary: '部门列表（新建用户时选择）',
        description: 'Every department a user can belong to: those the procedures route tasks to, and the administration itself. Who: admins.',
        response: { 200: departmentList, ...refusals('ROLE_REQUIRED') },
      },
    },
    async (request) => {
      assertAdmin(actorOf(request));
      return { items: [...Object.entries(DEPARTMENTS).map(([id, d]) => ({ id, name: d.name, level: d.level })), ADMINISTRATION] };
    },
  );

  app.get(
    '/calendars',
    {
      config: { roles: ['admin', 'supervisor'] },
      schema: {
        operationId: 'listCalendars',
        tags: ['admin'],
        summary: '工作日历概况：已加载年度、下一年度是否缺失、时限重算进度',
        description:
          "Loaded schedules (national and the caller's regions), whether next year's national schedule is missing (a warning from 1 November, China time) with the provisional days off used meanwhile, and the latest deadline recomputes. Who: admins and supervisors.",
        response: { 200: calendarOverview, ...refusals('ROLE_REQUIRED') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      if (!actor.roles.includes('admin') && !actor.roles.includes('supervisor')) throw new DomainError('forbidden', 'ROLE_REQUIRED', '无权查看工作日历');
      const years = await listCalendarYears(db, actor.regionCode);
      const status = nextYearStatus(engine.clock(), years.filter((y) => y.regionCode === NATIONAL).map((y) => y.year));
      const jobs = await listRecomputeJobs(db);
      return {
        ...status,
        years,
        recomputeJobs: jobs
          .filter((j) => j.region_code === NATIONAL || j.region_code.startsWith(actor.regionCode))
          .map((j) => ({
            id: j.id,
            regionCode: j.region_code,
            year: j.year,
            status: j.status,
            casesSeen: j.cases_seen,
            casesChanged: j.cases_changed,
            createdAt: new Date(j.created_at).toISOString(),
            finishedAt: j.finished_at ? new Date(j.finished_at).toISOString() : null,
            lastError: j.last_error,
          })),
      };
    },
  );

  app.get(
    '/calendars/:year',
    {
      config: { roles: ['admin', 'supervisor'] },
      schema: {
        operationId: 'getCalendarYear',
        tags: ['admin'],
        summary: '查看某年工作日历（全国或地区调整）',
        description: "A year's statutory holidays and worked weekend days, national ('CN') or a region's adjustments. Who: admins and supervisors.",
        params: yearParams,
        querystring: z.object({ region: z.string().max(12).default(NATIONAL).describe("'CN' (default) or a region code") }),
        response: { 200: calendarYear, ...refusals('ROLE_REQUIRED', 'NOT_FOUND') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      if (!actor.roles.includes('admin') && !actor.roles.includes('supervisor')) throw new DomainError('forbidden', 'ROLE_REQUIRED', '无权查看工作日历');
      const found = await getCalendarYear(db, request.query.region, request.params.year);
      if (!found) throw notFound('该年度工作日历');
      return found;
    },
  );

  app.put(
    '/calendars/:year',
    {
      config: { roles: ['admin'] },
      schema: {
        operationId: 'putCalendarYear',
        tags: ['admin'],
        summary: '加载（替换）某年工作日历：法定节假日与调休上班日',
        description:
          "Loads (replaces) a year's holidays and worked weekend days, and queues a background recompute of the due dates, escalation dates and timers of every running case of that region (and below; 'CN': all) whose dates touch the year — provisional ones included — each change logged as DEADLINES_RECOMPUTED. Who: an admin, for their region and below; the national calendar only an admin of a top-level region.",
        params: yearParams,
        body: z
          .strictObject({
            regionCode: z.string().max(12).default(NATIONAL),
            source: z.string().trim().min(2).max(200).describe('e.g. 国务院办公厅关于2027年部分节假日安排的通知'),
            holidays: z.array(entry).max(366),
            workdays: z.array(entry).max(366).describe('Weekend days worked (调休上班)'),
          })
          .meta({ id: 'CalendarYearRequest' }),
        response: { 200: calendarLoad, ...refusals('ROLE_REQUIRED', 'NOT_PERMITTED', 'INVALID_CALENDAR') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const { year } = request.params;
      const body = request.body;
      await assertMayManage(db, actor, body.regionCode);
      const issues = [
        ...body.holidays.map((d, i) => (d.date.startsWith(`${year}-`) ? null : { path: `holidays.${i}.date`, message: `日期不在${year}年内` })),
        ...body.workdays.map((d, i) => (d.date.startsWith(`${year}-`) ? null : { path: `workdays.${i}.date`, message: `日期不在${year}年内` })),
        ...body.workdays.map((d, i) => ([0, 6].includes(new Date(`${d.date}T00:00:00Z`).getUTCDay()) ? null : { path: `workdays.${i}.date`, message: '调休上班日应为周六或周日' })),
      ].filter((x) => x !== null);
      const dates = [...body.holidays, ...body.workdays].map((d) => d.date);
      if (new Set(dates).size !== dates.length) issues.push({ path: 'holidays', message: '同一日期不能重复出现' });
      if (issues.length) throw new DomainError('invalid', 'INVALID_CALENDAR', '工作日历有误，请按提示修改', issues);
      const loaded = await command(db, request, reply, 200, async (trx) => {
        await replaceCalendarYear(trx, { ...body, year }, engine.clock());
        // Durable: the job commits with the load, the worker loop works it (calendarRecompute.ts).
        const recomputeJobId = await enqueueAfterLoad(trx, { regionCode: body.regionCode, year, source: body.source, requestedBy: actor.id }, engine.clock());
        return { ...(await getCalendarYear(trx, body.regionCode, year))!, recomputeJobId };
      });
      engine.calendars.invalidate();
      return loaded;
    },
  );
};
export default routes;
