import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { errors, inboxItemSchema } from '../schemas.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  app.get(
    '/',
    {
      schema: {
        tags: ['supervision'],
        summary: '时限督办：本辖区预警、超期（黄牌）、红牌任务，按部门、最早到期在前',
        response: {
          200: z.object({
            regionCode: z.string(),
            totals: z.object({ warned: z.number().int(), overdue: z.number().int(), red: z.number().int() }),
            departments: z.array(z.object({ department: z.string(), departmentName: z.string(), tasks: z.array(inboxItemSchema) })),
          }),
          ...errors(401, 403),
        },
      },
    },
    async (request) => engine.supervision(db, actorOf(request)),
  );
};
export default routes;
