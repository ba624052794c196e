import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { login, logout } from '../../identity.ts';
import { actorOf, bearerToken } from '../auth.ts';
import { errors } from '../schemas.ts';
import { command } from '../idempotency.ts';
import { DomainError } from '../../engine/errors.ts';
import { assertNotLocked, clearFailures, failureBuckets, recordFailure } from '../abuse.ts';

const actorSchema = z.object({
  id: z.string().nullable(),
  name: z.string(),
  regionCode: z.string(),
  department: z.string(),
  roles: z.array(z.string()),
});

const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: '登录，取得访问令牌',
        security: [],
        body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
        response: { 200: z.object({ token: z.string(), expiresAt: z.string(), user: actorSchema }), ...errors(401, 422, 429) },
      },
    },
    async (request) => {
      const { db, engine, sessionHours } = app.deps;
      const now = engine.clock();
      // The address was throttled before the body was read (abuse.ts); failures lock only this
      // (username, address) pair and this address, never the account for everybody.
      const buckets = failureBuckets('login', request.body.username, request);
      await assertNotLocked(db, buckets, now, '登录失败次数过多，已暂时限制从当前网络登录，请稍后再试');
      try {
        const result = await login(db, request.body.username, request.body.password, now, sessionHours);
        await clearFailures(db, buckets);
        return { token: result.token, expiresAt: result.expiresAt.toISOString(), user: result.user };
      } catch (err) {
        if (err instanceof DomainError && err.code === 'INVALID_CREDENTIALS') await recordFailure(db, 'login', buckets, now, app.deps.limits);
        throw err;
      }
    },
  );

  app.post(
    '/logout',
    { config: { anyUser: true }, schema: { tags: ['auth'], summary: '退出登录', response: { 204: z.null(), ...errors(401) } } },
    async (request, reply) => {
      await command(app.deps.db, request, reply, 204, (trx) => logout(trx, bearerToken(request)!));
      return reply.send(null);
    },
  );

  app.get(
    '/me',
    { config: { anyUser: true }, schema: { tags: ['auth'], summary: '当前用户', response: { 200: actorSchema, ...errors(401) } } },
    async (request) => actorOf(request),
  );
};
export default routes;
