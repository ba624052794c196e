import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { caseViewSchema, errors, idParams, transitionResultSchema } from '../schemas.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.post(
    '/',
    {
      config: { roles: ['clerk'] },
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
      return command(db, request, reply, 201, (trx) => engine.openCase(trx, actor, request.body));
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

  app.get(
    '/:id/personal-data',
    {
      schema: {
        tags: ['cases'],
        summary: '查看完整个人信息（仅限受理窗口及承办部门，每次查看均留痕）',
        params: idParams,
        response: {
          200: z.object({ caseId: z.string(), reference: z.string(), applicant: z.record(z.string(), z.unknown()), application: z.record(z.string(), z.unknown()) }),
          ...errors(401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      reply.header('cache-control', 'no-store');
      return db.transaction((trx) => engine.personalData(trx, actor, request.params.id));
    },
  );

  app.get(
    '/:id/audit/verify',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        tags: ['audit'],
        summary: '核验办件日志哈希链（SM3），指出第一条被篡改的记录',
        params: idParams,
        response: {
          200: z.object({
            caseId: z.string(),
            reference: z.string(),
            algorithm: z.literal('SM3'),
            valid: z.boolean(),
            events: z.number().int(),
            firstBroken: z.object({ seq: z.number().int(), id: z.string(), reason: z.string() }).nullable(),
          }),
          ...errors(401, 403, 404),
        },
      },
    },
    async (request) => engine.verifyAudit(db, actorOf(request), request.params.id),
  );

  app.post(
    '/:id/events',
    {
      config: { roles: ['clerk', 'reviewer'] },
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
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => engine.sendEvent(trx, actor, request.params.id, request.body));
    },
  );
};
export default routes;
