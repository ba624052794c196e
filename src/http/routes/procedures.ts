import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { describeProcedure } from '../../engine/describe.ts';
import { errors } from '../schemas.ts';

const summary = z.object({ id: z.string(), version: z.number().int(), code: z.string(), name: z.string() });

const routes: FastifyPluginAsyncZod = async (app) => {
  const { engine } = app.deps;
  app.get(
    '/',
    { schema: { tags: ['procedures'], summary: '可办理事项列表', response: { 200: z.array(summary), ...errors(401) } } },
    async () => engine.registry.list().map((d) => ({ id: d.id, version: d.version, code: d.code, name: d.name })),
  );
  app.get(
    '/:id',
    {
      schema: {
        tags: ['procedures'],
        summary: '事项定义：状态、任务、部门、材料、时限',
        params: z.object({ id: z.string().max(64) }),
        response: {
          200: summary.extend({
            legalBasis: z.array(z.string()),
            departments: z.record(z.string(), z.string()),
            materials: z.array(z.object({ code: z.string(), name: z.string(), required: z.boolean() })),
            totalTimeLimit: z.object({ days: z.number(), unit: z.string(), source: z.string() }),
            events: z.array(z.object({ type: z.string(), label: z.string(), sentBy: z.unknown(), dataSchema: z.unknown() })),
            acceptingDepartments: z.array(z.string()),
            root: z.unknown().describe('State tree: id, stage, task (department, role, actions, timeLimit), transitions'),
            diagram: z.string().describe('Mermaid stateDiagram-v2 source, labelled in Chinese'),
          }),
          ...errors(401, 404),
        },
      },
    },
    async (request) => describeProcedure(engine.registry.latest(request.params.id)),
  );
};
export default routes;
