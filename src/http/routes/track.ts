import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refusals, trackingViewSchema } from '../schemas.ts';
import { DomainError } from '../../engine/errors.ts';
import { assertNotLocked, failureBuckets, recordFailure } from '../abuse.ts';
import { runTransaction } from '../../db/transaction.ts';
import { rateCase } from '../../engine/commands/service.ts';
import { ratingRequestSchema } from '../../engine/serviceEvents.ts';

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

  app.post(
    '/:reference/ratings',
    {
      config: { public: true },
      schema: {
        operationId: 'rateCase',
        tags: ['tracking'],
        summary: '群众评价办件（好差评）',
        description:
          'The citizen rates one stage of their case (好差评, 国办发〔2019〕51号; GB/T 39734-2020): stage acceptance (the window service) at any time, decision once the case is decided; ' +
          'once per stage (409 ALREADY_RATED). An overall level and one level per indicator of the channel, each of five levels. 不满意 and 非常不满意 open a 差评整改 task for the region\'s supervisors (docs/ratings.md). ' +
          'Authenticated like trackCase by the reference and the tracking code in the body: an unknown reference and a wrong code give the same 404, with the same throttling and lockout. ' +
          'Who: anyone holding the reference and the tracking code (public).',
        security: [],
        params: z.object({ reference: z.string().describe('受理编号') }),
        body: ratingRequestSchema,
        response: {
          201: z
            .object({
              reference: z.string(),
              stage: z.enum(['acceptance', 'decision']),
              level: z.string(),
              rectification: z.boolean().describe('true: a 差评 — a 整改 task was opened for the supervisors'),
            })
            .meta({ id: 'RatingReceipt' }),
          ...refusals('TRACKING_NOT_FOUND', 'TEMPORARILY_LOCKED', 'ALREADY_RATED', 'NOT_YET_DECIDED', 'CASE_BUSY'),
        },
      },
    },
    async (request, reply) => {
      const now = engine.clock();
      const buckets = failureBuckets('track', request.params.reference.slice(0, 64), request);
      await assertNotLocked(db, buckets, now, '查询失败次数过多，已暂停从当前网络查询，请稍后再试');
      try {
        const { rectificationDueAt: _due, ...receipt } = await runTransaction(db, (trx) => rateCase(engine, trx, request.params.reference, request.body));
        return reply.status(201).send(receipt);
      } catch (err) {
        // Outside the rolled-back transaction: the failure counts like a wrong code on trackCase.
        if (err instanceof DomainError && err.code === 'TRACKING_NOT_FOUND') await recordFailure(db, 'track', buckets, now, app.deps.limits);
        throw err;
      }
    },
  );
};
export default routes;
