import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errors, trackingViewSchema } from '../schemas.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  app.get(
    '/:reference',
    {
      config: { public: true },
      schema: {
        tags: ['tracking'],
        summary: '群众查询办件进度（受理编号 + 查询码）',
        security: [],
        params: z.object({ reference: z.string() }),
        querystring: z.object({ code: z.string().default('') }),
        response: { 200: trackingViewSchema, ...errors(404) },
      },
    },
    async (request) => engine.track(db, request.params.reference, request.query.code),
  );
};
export default routes;
