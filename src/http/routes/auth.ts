import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { changePassword, login, logout, passwordStrengthIssue, verifyOwnPassword } from '../../identity.ts';
import { actorOf, bearerToken } from '../auth.ts';
import { ROLES } from '../../../workflows/index.ts';
import { errors, refusals } from '../schemas.ts';
import { command } from '../idempotency.ts';
import { DomainError } from '../../engine/errors.ts';
import { assertNotLocked, clearFailures, failureBuckets, recordFailure } from '../abuse.ts';

const actorSchema = z
  .object({
    id: z.string().nullable(),
    name: z.string(),
    regionCode: z.string().describe('行政区划代码: the user sees cases of this region and below'),
    department: z.string(),
    roles: z.array(z.enum(ROLES)),
  })
  .meta({ id: 'User' });

const newPassword = z
  .string()
  .max(256)
  .superRefine((pw, ctx) => {
    const issue = passwordStrengthIssue(pw);
    if (issue) ctx.addIssue({ code: 'custom', message: issue });
  })
  .describe('At least 10 characters, of at least three kinds: lower case, upper case, digits, symbols');

const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/login',
    {
      config: { public: true },
      schema: {
        operationId: 'login',
        tags: ['auth'],
        summary: '登录，取得访问令牌',
        description:
          'Exchanges username and password for a bearer token. Who: anyone (public), limited per client address and per username. Ignores Idempotency-Key: a retried login only creates another session.',
        security: [],
        body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }).meta({ id: 'LoginRequest' }),
        response: {
          200: z.object({ token: z.string().describe('Send as Authorization: Bearer <token>'), expiresAt: z.string(), user: actorSchema }).meta({ id: 'Session' }),
          ...refusals('INVALID_CREDENTIALS', 'ACCOUNT_DISABLED', 'TEMPORARILY_LOCKED'),
        },
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
    {
      config: { anyUser: true },
      schema: {
        operationId: 'logout',
        tags: ['auth'],
        summary: '退出登录',
        description: 'Ends the session of the token sent. Who: any logged-in user.',
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await command(app.deps.db, request, reply, 204, (trx) => logout(trx, bearerToken(request)!));
      return reply.send(null);
    },
  );

  app.get(
    '/me',
    {
      config: { anyUser: true },
      schema: {
        operationId: 'getMe',
        tags: ['auth'],
        summary: '当前用户',
        description: 'The logged-in user: region, department and roles. Who: any logged-in user.',
        response: { 200: actorSchema },
      },
    },
    async (request) => actorOf(request),
  );
  app.post(
    '/password',
    {
      schema: {
        operationId: 'changePassword',
        tags: ['auth'],
        summary: '修改本人密码（其他登录随即失效）',
        description:
          'Changes the caller’s own password. Every other session of the caller is revoked; this one stays. A wrong current password answers 422 WRONG_PASSWORD and ends this session too, so guessing costs a (rate-limited) login each time. A retry of a change that went through (its new password is already the password) goes on: with the same Idempotency-Key it gets the first answer. Who: any logged-in user with a role, for themselves.',
        body: z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword }),
        response: { 200: z.object({ revokedSessions: z.number().int().describe('Other sessions ended') }), ...errors(401, 403, 422) },
      },
    },
    async (request, reply) => {
      const { db, engine } = app.deps;
      const actor = actorOf(request);
      const token = bearerToken(request)!;
      // Checked outside the command's transaction: ending the session must survive the refusal.
      await verifyOwnPassword(db, actor, token, request.body.currentPassword, request.body.newPassword);
      // The key record's request hash takes the new password only as a keyed digest: a plain hash
      // would be an offline guessing target in idempotency_keys, and none at all would answer a
      // retry with another new password as done.
      const fingerprint = { newPassword: engine.cipher.fingerprint(request.body.newPassword) };
      return command(db, request, reply, 200, (trx) => changePassword(trx, actor, token, request.body.currentPassword, request.body.newPassword, engine.clock()), fingerprint);
    },
  );
};
export default routes;
