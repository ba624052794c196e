import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { errors, idParams, inboxItemSchema, transitionResultSchema } from '../schemas.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.get(
    '/',
    {
      schema: {
        tags: ['tasks'],
        summary: '我的部门待办（收件箱）',
        querystring: z.object({
          status: z.enum(['open', 'claimed', 'completed', 'cancelled']).optional().describe('Default: open and claimed'),
          procedure: z.string().max(64).optional(),
          page: z.coerce.number().int().min(1).max(100000).default(1),
          pageSize: z.coerce.number().int().min(1).max(200).default(20),
        }),
        response: {
          200: z.object({ items: z.array(inboxItemSchema), total: z.number().int(), page: z.number().int(), pageSize: z.number().int() }),
          ...errors(401, 422),
        },
      },
    },
    async (request) => {
      const q = request.query;
      return engine.inbox(db, actorOf(request), { status: q.status, procedureId: q.procedure, page: q.page, pageSize: q.pageSize });
    },
  );

  app.post(
    '/:id/claim',
    {
      config: { roles: ['clerk', 'reviewer'] },
      schema: {
        tags: ['tasks'],
        summary: '认领任务',
        params: idParams,
        response: { 204: z.null(), ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      await command(db, request, reply, 204, (trx) => engine.claimTask(trx, actor, request.params.id));
      return reply.send(null);
    },
  );

  app.post(
    '/:id/complete',
    {
      config: { roles: ['clerk', 'reviewer'] },
      schema: {
        tags: ['tasks'],
        summary: '办结任务（以某一办理结果推进办件）',
        params: idParams,
        body: z.object({
          outcome: z.string().min(1).max(64).describe("One of the task's actions"),
          data: z.record(z.string(), z.unknown()).optional(),
          expectedVersion: z.number().int().min(1).optional(),
        }),
        response: { 200: transitionResultSchema, ...errors(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => engine.completeTask(trx, actor, request.params.id, request.body));
    },
  );
};
export default routes;
