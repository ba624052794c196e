import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { disableUser, enableUser, listUsers, revokeSessions } from '../../identity.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { errors, idParams } from '../schemas.ts';

// Stopping users (issue 13 B7): admins disable, enable and sign out the users of their region
// and below (/api/admin/users). A user changes their own password under /api/auth.

const userSchema = z
  .object({
    id: z.string(),
    username: z.string(),
    displayName: z.string(),
    regionCode: z.string(),
    department: z.string(),
    roles: z.array(z.string()),
    disabled: z.boolean(),
    disabledAt: z.string().nullable(),
    activeSessions: z.number().int().describe('Unexpired sessions (0 once disabled or revoked)'),
  })
  .describe('User');

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const admin = { roles: ['admin' as const] };

  app.get(
    '/',
    {
      config: admin,
      schema: {
        operationId: 'listUsers',
        tags: ['admin'],
        summary: '用户列表（本辖区及下级）',
        description: 'Users of the caller’s region and below, with whether each is disabled and how many live sessions it has. Who: admins (their region and below).',
        querystring: z.object({
          page: z.coerce.number().int().min(1).max(100000).default(1),
          pageSize: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: {
          200: z.object({ items: z.array(userSchema), total: z.number().int(), page: z.number().int(), pageSize: z.number().int() }),
          ...errors(401, 403, 422),
        },
      },
    },
    async (request) => listUsers(db, actorOf(request), request.query, engine.clock()),
  );

  app.post(
    '/:id/disable',
    {
      config: admin,
      schema: {
        operationId: 'disableUser',
        tags: ['admin'],
        summary: '停用用户（立即失效其全部登录）',
        description:
          'Disables a user of the caller’s region or below: every session is revoked at once, their tokens answer 401 from the next request, and login answers 403 ACCOUNT_DISABLED. Repeating it is harmless. An admin cannot disable themselves (409). Who: admins of the user’s region or above; a user outside the region is 404.',
        params: idParams,
        response: { 200: userSchema, ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => disableUser(trx, actor, request.params.id, engine.clock()));
    },
  );

  app.post(
    '/:id/enable',
    {
      config: admin,
      schema: {
        operationId: 'enableUser',
        tags: ['admin'],
        summary: '启用已停用的用户',
        description: 'Lets a disabled user log in again (old sessions stay revoked). Who: admins of the user’s region or above; a user outside the region is 404.',
        params: idParams,
        response: { 200: userSchema, ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => enableUser(trx, actor, request.params.id, engine.clock()));
    },
  );

  app.post(
    '/:id/revoke-sessions',
    {
      config: admin,
      schema: {
        operationId: 'revokeUserSessions',
        tags: ['admin'],
        summary: '注销用户的全部登录',
        description:
          'Revokes every session of the user (a lost phone, a shared computer): each of their tokens answers 401 from the next request; the user may log in again. Who: admins of the user’s region or above; a user outside the region is 404.',
        params: idParams,
        response: { 200: z.object({ userId: z.string(), revokedSessions: z.number().int() }), ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => revokeSessions(trx, actor, request.params.id));
    },
  );

};
export default routes;
