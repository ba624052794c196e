import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { COMPLETION_REFUSALS, TASK_WORKER_ROLES, completionEnvelope, procedureOfReference } from '../contract/commands.ts';
import { idParams, inboxPageSchema, refusals, transitionResultSchema, withActions, withActionSchemas } from '../schemas.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.get(
    '/',
    {
      schema: {
        operationId: 'getInbox',
        tags: ['tasks'],
        summary: '我的部门待办（收件箱）',
        description:
          "Tasks of the caller's department and roles in the caller's region and below, each with its region, actions (and their data schemas) and deadline (`deadlineText` to show). " +
          'Filters: status, procedure, escalation level, overdue (due date passed). Sorted by due date, tasks without one last, then id (`sort=opened`: oldest first). ' +
          'Pages: follow `nextCursor` (keyset; cheap at any depth) or ask for `page` (offset; kept for compatibility). ' +
          '`counts` gives, for each filter, the tasks per value with the other filters applied; counts stop at 10,000 ("10,000+", `exact: false`). Who: any staff user.',
        querystring: z.object({
          status: z.enum(['open', 'claimed', 'completed', 'cancelled']).optional().describe('Default: open and claimed'),
          procedure: z.string().max(64).optional().describe('Only tasks of this procedure id'),
          escalation: z.enum(['none', 'warned', 'overdue', 'red']).optional().describe('Only tasks at this escalation level (预警 warned, 黄牌 overdue, 红牌 red)'),
          overdue: z.enum(['true', 'false']).optional().describe('true: only tasks whose due date has passed; false: only tasks not overdue'),
          sort: z.enum(['due', 'opened']).default('due').describe('due: due date (unknown last), then id; opened: oldest first'),
          cursor: z.string().max(200).optional().describe('nextCursor of the previous page; page is then ignored'),
          page: z.coerce.number().int().min(1).max(100000).default(1),
          pageSize: z.coerce.number().int().min(1).max(200).default(20),
        }),
        response: { 200: inboxPageSchema },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await engine.inbox(db, actorOf(request), {
        status: q.status,
        procedureId: q.procedure,
        escalation: q.escalation,
        overdue: q.overdue === undefined ? undefined : q.overdue === 'true',
        sort: q.sort,
        cursor: q.cursor,
        page: q.page,
        pageSize: q.pageSize,
      });
      return { ...page, items: page.items.map((t) => ({ ...t, actions: withActions(engine.registry.latest(t.procedureId), t.actions) })) };
    },
  );

  app.post(
    '/:id/claim',
    {
      config: { roles: ['clerk', 'reviewer', 'supervisor'] },
      schema: {
        operationId: 'claimTask',
        tags: ['tasks'],
        summary: '认领任务',
        description: 'Claims an open task, so colleagues see who works it; claiming one you hold already is a no-op. Who: a user of the task\'s department, role and region.',
        params: idParams,
        response: { 204: z.null(), ...refusals('NOT_FOUND', 'NOT_YOUR_DEPARTMENT', 'TASK_CLAIMED_BY_OTHER', 'TASK_NOT_OPEN', 'CASE_BUSY') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      await command(db, request, reply, 204, (trx) => engine.claimTask(trx, actor, request.params.id));
      return reply.send(null);
    },
  );

  app.post(
    '/:id/unclaim',
    {
      config: { roles: ['clerk', 'reviewer', 'supervisor'] },
      schema: {
        operationId: 'unclaimTask',
        tags: ['tasks'],
        summary: '释放已认领的任务（退回部门待办）',
        description:
          "Releases a claimed task back to its department's queue (status open, no assignee). Refused (409) unless the task is claimed by the caller: TASK_NOT_CLAIMED when nobody holds it, TASK_CLAIMED_BY_OTHER when a colleague does. " +
          'Idempotent with Idempotency-Key, like claimTask. Who: the task\'s assignee, or a supervisor whose region covers the task.',
        params: idParams,
        response: { 204: z.null(), ...refusals('NOT_FOUND', 'NOT_YOUR_DEPARTMENT', 'TASK_CLAIMED_BY_OTHER', 'TASK_NOT_CLAIMED', 'TASK_NOT_OPEN', 'CASE_BUSY') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      await command(db, request, reply, 204, (trx) => engine.unclaimTask(trx, actor, request.params.id));
      return reply.send(null);
    },
  );

  app.post(
    '/:id/complete',
    {
      config: { roles: TASK_WORKER_ROLES },
      schema: {
        operationId: 'completeTask',
        tags: ['tasks'],
        summary: '办结任务（以某一办理结果推进办件）',
        description:
          "Completes a task with one of its actions as outcome, moving the case on. For typed bodies use the per-procedure operation (e.g. completeSocialAssistanceTask), which takes the same body. " +
          "Who: a user of the task's department, role and region (the claimant, if claimed); supervisors complete their 差评整改 and 回访 tasks here (docs/ratings.md).",
        params: idParams,
        body: completionEnvelope,
        response: { 200: transitionResultSchema, ...refusals(...COMPLETION_REFUSALS) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const result = await command(db, request, reply, 200, (trx) => engine.completeTask(trx, actor, request.params.id, request.body), request.body, { commitWithLastWrite: true });
      return withActionSchemas(procedureOfReference(engine.registry, result.reference), result);
    },
  );
};
export default routes;
