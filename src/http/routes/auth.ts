import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { login, logout } from '../../identity.ts';
import { actorOf, bearerToken } from '../auth.ts';
import { errors } from '../schemas.ts';

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
        response: { 200: z.object({ token: z.string(), expiresAt: z.string(), user: actorSchema }), ...errors(401, 422) },
      },
    },
    async (request) => {
      const { db, engine, sessionHours } = app.deps;
      const result = await login(db, request.body.username, request.body.password, engine.clock(), sessionHours);
      return { token: result.token, expiresAt: result.expiresAt.toISOString(), user: result.user };
    },
  );

  app.post(
    '/logout',
    { schema: { tags: ['auth'], summary: '退出登录', response: { 204: z.null(), ...errors(401) } } },
    async (request, reply) => {
      await logout(app.deps.db, bearerToken(request)!);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/me',
    { schema: { tags: ['auth'], summary: '当前用户', response: { 200: actorSchema, ...errors(401) } } },
    async (request) => actorOf(request),
  );
};
export default routes;
