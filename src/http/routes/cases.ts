import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { caseViewSchema, errors, idParams, transitionResultSchema } from '../schemas.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.post(
    '/',
    {
      schema: {
        tags: ['cases'],
        summary: '窗口受理：登记一件新申请',
        body: z.object({
          procedureId: z.string().min(1).max(64),
          applicant: z.unknown().describe('Applicant: name, idNumber, phone, address?, bankCard?'),
          application: z.unknown().describe("Application data, validated by the procedure's schema"),
        }),
        response: {
          201: z.object({
            id: z.string(),
            reference: z.string().describe('受理编号'),
            trackingCode: z.string().describe('查询码: shown once, only its hash is stored'),
            version: z.number().int(),
          }),
          ...errors(401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const created = await db.transaction((trx) => engine.openCase(trx, actor, request.body));
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        tags: ['cases'],
        summary: '办件详情：当前状态、待办任务、可执行操作、历史',
        params: idParams,
        response: { 200: caseViewSchema, ...errors(401, 404) },
      },
    },
    async (request) => engine.caseView(db, actorOf(request), request.params.id),
  );

  app.post(
    '/:id/events',
    {
      schema: {
        tags: ['cases'],
        summary: '向办件发送事件（推进流程）',
        params: idParams,
        body: z.object({
          type: z.string().min(1).max(64),
          data: z.record(z.string(), z.unknown()).optional(),
          expectedVersion: z.number().int().min(1).describe('The case version you saw; stale → 409'),
        }),
        response: { 200: transitionResultSchema, ...errors(401, 403, 404, 409, 422) },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      return db.transaction((trx) => engine.sendEvent(trx, actor, request.params.id, request.body));
    },
  );
};
export default routes;
