import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { inboxItemSchema, refusals, supervisionTaskPageSchema, withActions } from '../schemas.ts';

const counts = {
  open: z.number().int().describe('Live tasks (open or claimed)'),
  dueSoon: z.number().int().describe('Due within 2 working days, not yet overdue'),
  overdue: z.number().int().describe('黄牌: due date passed, not yet red'),
  red: z.number().int().describe('红牌: past the red-card date'),
  capped: z
    .array(z.enum(['open', 'dueSoon', 'overdue', 'red']))
    .describe('The numbers here that are lower bounds: a part of them stopped at countCap ("10,000+"); empty when all are exact'),
  tasks: z
    .object({ open: z.string(), dueSoon: z.string(), overdue: z.string(), red: z.string() })
    .describe('For each number, the listSupervisionTasks URL (GET) that lists the tasks behind it'),
};

const boardSchema = z
  .object({
    regionCode: z.string(),
    regionName: z.string().describe("The supervisor's region by name, as people read it (e.g. 西湖区)"),
    asOf: z.string().describe('The instant the counts were computed at (from due dates, not from the timer worker)'),
    dueSoonUntil: z.string().describe('End of the 2nd working day from asOf'),
    countCap: z.number().int().describe('Where a region holds 50,000 live tasks or more, each number per department and procedure stops here; below that every number is exact'),
    counts: z.object({
      total: z.object(counts).meta({ id: 'BoardCounts' }),
      byDepartment: z.array(z.object({ department: z.string(), departmentName: z.string(), ...counts })),
      byProcedure: z.array(z.object({ procedureId: z.string(), procedureName: z.string(), ...counts })),
    }),
    daily: z
      .array(z.object({ day: z.string().describe('YYYY-MM-DD, China time'), opened: z.number().int(), closed: z.number().int() }))
      .describe('Cases of the region and below opened and closed per day, the last 30 days, oldest first'),
    leads: z
      .object({
        open: z.number().int().describe('Leads awaiting the township review'),
        overdue: z.number().int().describe('Of those, past their review due date'),
        converted: z.number().int().describe('Converted into a case'),
        closed: z.number().int().describe('Closed with a reason'),
        list: z.object({ open: z.string(), overdue: z.string(), converted: z.string(), closed: z.string() }).describe('For each number, the listLeads URL (GET) behind it'),
      })
      .describe('主动发现 leads of the region and below (docs/leads.md)'),
    totals: z
      .object({
        warned: z.number().int().describe('Warned (预警) by the timer worker and not yet due at asOf'),
        overdue: z.number().int().describe('黄牌 at asOf, from the due dates: counts.total.overdue'),
        red: z.number().int().describe('红牌 at asOf, from the red-card dates: counts.total.red'),
      })
      .describe(
        'Earlier board, kept for older clients (use counts): live tasks warned, overdue and red; each stops at 10,000 (exact below it, "10,000 or more" at it). ' +
          'Overdue and red are the board\'s own numbers at asOf (they equal the recorded escalation level once the timer worker has caught up); warned is the recorded level.',
      ),
    departments: z
      .array(z.object({ department: z.string(), departmentName: z.string(), tasks: z.array(inboxItemSchema) }))
      .describe('Earlier board: warned, overdue and red tasks by department, the 50 oldest deadlines (all of them: listSupervisionTasks)'),
  })
  .meta({ id: 'SupervisionBoard' });

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const withTaskActions = <T extends { procedureId: string; actions: Array<{ type: string; label: string }> }>(t: T) => ({
    ...t,
    actions: withActions(engine.registry.latest(t.procedureId), t.actions),
  });

  app.get(
    '/',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        operationId: 'getSupervisionBoard',
        tags: ['supervision'],
        summary: '督办看板：各部门、各事项的在办、即将到期、超期（黄牌）、红牌数，及近30天受理与办结量',
        description:
          "Live tasks of the caller's region and below counted by department and by procedure: open, due within 2 working days, overdue (黄牌), red (红牌) — each number with the listSupervisionTasks URL of the tasks behind it — and cases opened and closed per day for the last 30 days. " +
          'Counts are exact while the region holds fewer than 50,000 live tasks; past that each number per department and procedure is counted up to countCap (10,000) and `capped` names the numbers that are lower bounds (\"10,000+\"). ' +
          'Still carries the earlier board for older clients (`totals`; `departments`: the 50 warned, overdue or red tasks, by recorded escalation level, with the oldest deadlines). Who: supervisors and admins (their region and below).',
        response: { 200: boardSchema, ...refusals('ROLE_REQUIRED') },
      },
    },
    async (request) => {
      const board = await engine.supervision(db, actorOf(request));
      return { ...board, departments: board.departments.map((d) => ({ ...d, tasks: d.tasks.map(withTaskActions) })) };
    },
  );

  app.get(
    '/tasks',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        operationId: 'listSupervisionTasks',
        tags: ['supervision'],
        summary: '督办看板明细：某一数字背后的任务列表',
        description:
          "The live tasks behind one number of the board, of the caller's region and below: optionally one department and/or procedure, and a bucket (open, dueSoon, overdue, red; the board's definitions). " +
          'Due date first (unknown last), then id; keyset pages via nextCursor, or page. Who: supervisors and admins.',
        querystring: z.object({
          department: z.string().max(64).optional(),
          procedure: z.string().max(64).optional().describe('Procedure id'),
          bucket: z.enum(['open', 'dueSoon', 'overdue', 'red']).default('open'),
          cursor: z.string().max(200).optional().describe('nextCursor of the previous page; page is then ignored'),
          page: z.coerce.number().int().min(1).max(100000).default(1),
          pageSize: z.coerce.number().int().min(1).max(200).default(20),
        }),
        response: { 200: supervisionTaskPageSchema, ...refusals('ROLE_REQUIRED') },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await engine.supervisionTasks(db, actorOf(request), {
        department: q.department,
        procedureId: q.procedure,
        bucket: q.bucket,
        cursor: q.cursor,
        page: q.page,
        pageSize: q.pageSize,
      });
      return { ...page, items: page.items.map(withTaskActions) };
    },
  );
};
export default routes;
