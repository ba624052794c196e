import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { inboxItemSchema, refusals } from '../schemas.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  app.get(
    '/',
    {
      schema: {
        operationId: 'getSupervisionBoard',
        tags: ['supervision'],
        summary: '时限督办：本辖区预警、超期（黄牌）、红牌任务，按部门、最早到期在前',
        description: "Warned, overdue (黄牌) and red (红牌) tasks of the caller's region and below, by department, earliest deadline first. Who: supervisors and admins.",
        response: {
          200: z.object({
            regionCode: z.string(),
            totals: z.object({ warned: z.number().int(), overdue: z.number().int(), red: z.number().int() }),
            departments: z.array(z.object({ department: z.string(), departmentName: z.string(), tasks: z.array(inboxItemSchema) })),
          }).meta({ id: 'SupervisionBoard' }),
          ...refusals('ROLE_REQUIRED'),
        },
      },
    },
    async (request) => engine.supervision(db, actorOf(request)),
  );
};
export default routes;
