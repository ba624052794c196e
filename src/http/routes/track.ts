import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refusals, trackingViewSchema } from '../schemas.ts';
import { DomainError } from '../../engine/errors.ts';
import { assertNotLocked, failureBuckets, recordFailure } from '../abuse.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  app.get(
    '/:reference',
    {
      config: { public: true },
      schema: {
        operationId: 'trackCase',
        tags: ['tracking'],
        summary: '群众查询办件进度（受理编号 + 查询码）',
        description:
          'What the citizen sees: stage, handling departments, missing materials, decision, timeline. Who: anyone holding the reference and the tracking code (public), limited per client address; repeated wrong codes lock the reference for a while.',
        security: [],
        params: z.object({ reference: z.string().describe('受理编号, e.g. DB-330106001-261123-0001-7') }),
        // Required in the contract. A missing code is answered like a wrong one (the same 404), so
        // that the answer never depends on whether the reference exists.
        querystring: z.object({ code: z.string().default('').describe('查询码 (8 characters, case-insensitive)') }).meta({ required: ['code'] }),
        response: { 200: trackingViewSchema, ...refusals('TRACKING_NOT_FOUND', 'TEMPORARILY_LOCKED') },
      },
    },
    async (request) => {
      const now = engine.clock();
      // Throttled per address before this handler (abuse.ts). Wrong codes lock this
      // (reference, address) pair and, past a daily budget, this address — never the reference.
      const buckets = failureBuckets('track', request.params.reference.slice(0, 64), request);
      await assertNotLocked(db, buckets, now, '查询失败次数过多，已暂停从当前网络查询，请稍后再试');
      try {
        return await engine.track(db, request.params.reference, request.query.code);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'TRACKING_NOT_FOUND') await recordFailure(db, 'track', buckets, now, app.deps.limits);
        throw err;
      }
    },
  );
};
export default routes;
