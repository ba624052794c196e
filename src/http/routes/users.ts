import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEPARTMENTS, ROLES } from '../../../workflows/index.ts';
import { createUser, disableUser, enableUser, listUsers, passwordStrengthIssue, resetPassword, revokeSessions } from '../../identity.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { errors, idParams, refusals } from '../schemas.ts';

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

// Departments a user can belong to: those of the procedures, and the administration's own.
const DEPARTMENT_IDS: [string, ...string[]] = ['administration', ...Object.keys(DEPARTMENTS)];

const password = z
  .string()
  .max(256)
  .superRefine((pw, ctx) => {
    const issue = passwordStrengthIssue(pw);
    if (issue) ctx.addIssue({ code: 'custom', message: issue });
  })
  .describe('At least 10 characters, of at least three kinds: lower case, upper case, digits, symbols; not containing the username');

const newUserSchema = z
  .strictObject({
    username: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{2,63}$/, '用户名须为3至64位小写字母、数字、点、下划线或连字符，以字母或数字开头')
      .describe('Login name, e.g. clerk.beishan2'),
    displayName: z.string().trim().min(1, '请填写姓名').max(100),
    regionCode: z.string().regex(/^\d{6,12}$/, '地区代码应为6至12位数字').describe("行政区划代码: the admin's region or one below it"),
    department: z.enum(DEPARTMENT_IDS),
    roles: z.array(z.enum(ROLES)).min(1, '至少分配一个岗位').max(ROLES.length),
    password: password.describe('Initial password (the policy applies); tell the user, who should change it'),
  })
  .meta({ id: 'NewUser' });

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
        description:
          'Users of the caller’s region and below, by username, with whether each is disabled and how many live sessions it has; optionally of one region, active or disabled only, or matching a search text. Who: admins (their region and below).',
        querystring: z.object({
          region: z.string().regex(/^\d{6,12}$/, '地区代码应为6至12位数字').optional().describe('Only users of exactly this region (outside the caller’s: an empty list)'),
          status: z.enum(['active', 'disabled']).optional().describe('active: not disabled; disabled: disabled only'),
          q: z.string().trim().max(64).optional().describe('Part of the username or display name (case-insensitive)'),
          page: z.coerce.number().int().min(1).max(100000).default(1),
          pageSize: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: {
          200: z.object({ items: z.array(userSchema), total: z.number().int(), page: z.number().int(), pageSize: z.number().int() }),
          ...errors(401, 403, 422),
        },
      },
    },
    async (request) => {
      const { status, q, ...rest } = request.query;
      return listUsers(db, actorOf(request), { ...rest, q: q || undefined, disabled: status === undefined ? undefined : status === 'disabled' }, engine.clock());
    },
  );

  app.post(
    '/',
    {
      config: admin,
      schema: {
        operationId: 'createUser',
        tags: ['admin'],
        summary: '新建用户（本辖区及下级）',
        description:
          'Creates a user in the caller’s region or a region below it, with a department, roles and an initial password meeting the policy (10 characters, three kinds, not the username). A taken username is 409 USERNAME_TAKEN. ' +
          'With Idempotency-Key, a retry is recognised by its whole body; the key record holds the password only as a digest keyed with the data key, nothing to guess it from offline. Who: admins (their region and below).',
        body: newUserSchema,
        response: { 201: userSchema, ...refusals('USERNAME_TAKEN') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const { username, displayName, regionCode, department, roles, password } = request.body;
      // The password only as a keyed digest: a plain hash in idempotency_keys would be a guessing target.
      const fingerprint = { username, displayName, regionCode, department, roles, password: engine.cipher.fingerprint(password) };
      return command(db, request, reply, 201, (trx) => createUser(trx, actor, request.body, engine.clock()), fingerprint);
    },
  );

  app.post(
    '/:id/reset-password',
    {
      config: admin,
      schema: {
        operationId: 'resetUserPassword',
        tags: ['admin'],
        summary: '重置用户密码（其全部登录随即失效）',
        description:
          'Sets a new password for a user of the caller’s region or below (a forgotten password) and revokes every session of theirs at once. The policy applies. ' +
          'With Idempotency-Key, a retry is recognised by the user id and the new password, the key record holding the password only as a digest keyed with the data key; the same key with another password is 422 IDEMPOTENCY_KEY_REUSED. Who: admins of the user’s region or above; a user outside the region is 404.',
        params: idParams,
        body: z.strictObject({ newPassword: password }).meta({ id: 'PasswordReset' }),
        response: { 200: z.object({ userId: z.string(), revokedSessions: z.number().int() }), ...refusals('NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => resetPassword(trx, actor, request.params.id, request.body.newPassword, engine.clock()), {
        userId: request.params.id,
        // Keyed digest (as in createUser): the same key with another password is refused, not replayed as done.
        newPassword: engine.cipher.fingerprint(request.body.newPassword),
      });
    },
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
