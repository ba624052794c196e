import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { assignableUsers, delegateTask, reassignTask } from '../../engine/commands/assignment.ts';
import { idParams, refusals, taskSchema } from '../schemas.ts';

// 委派 (delegate) and 改派 (reassign), with the list of colleagues to pick from (docs/referrals.md).

const assignmentBody = z.object({
  assignee: z.uuid('请选择经办人').describe('User id of the colleague who takes the task (from listTaskAssignees)'),
  reason: z.string().trim().min(2, '请说明理由').max(500).describe('Why (zh-CN); recorded in the case event log'),
});

const assignmentResult = z
  .object({
    task: taskSchema.describe('The task as the caller now sees it: claimed by the new assignee'),
    caseVersion: z.number().int().describe('The case version after the event (TASK_DELEGATED / TASK_REASSIGNED)'),
  })
  .meta({ id: 'TaskAssignment' });

const assigneePage = z
  .object({
    items: z.array(z.object({ id: z.string(), displayName: z.string() }).meta({ id: 'Assignee', description: 'A colleague who may take the task (no personal data)' })),
    total: z.number().int(),
    page: z.number().int(),
    pageSize: z.number().int(),
  })
  .meta({ id: 'AssigneePage' });

const ASSIGNMENT_REFUSALS = ['NOT_FOUND', 'NOT_YOUR_DEPARTMENT', 'TASK_NOT_OPEN', 'INVALID_ASSIGNEE', 'VERSION_CONFLICT', 'CASE_BUSY'] as const;

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.get(
    '/:id/assignees',
    {
      config: { roles: ['clerk', 'reviewer', 'supervisor'] },
      schema: {
        operationId: 'listTaskAssignees',
        tags: ['tasks'],
        summary: '可委派、改派的经办人',
        description:
          "Active users who may take the task — its department, its role, a region covering the case — except its current assignee, by name; id and display name only. " +
          "Who: a user of the task's department, role and region (to delegate), or a supervisor whose region covers the task (to reassign).",
        params: idParams,
        querystring: z.object({
          page: z.coerce.number().int().min(1).max(100000).default(1),
          pageSize: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: { 200: assigneePage, ...refusals('NOT_FOUND', 'NOT_YOUR_DEPARTMENT') },
      },
    },
    async (request) => assignableUsers(engine, db, actorOf(request), request.params.id, request.query),
  );

  app.post(
    '/:id/delegate',
    {
      config: { roles: ['clerk', 'reviewer'] },
      schema: {
        operationId: 'delegateTask',
        tags: ['tasks'],
        summary: '委派任务给本部门同事',
        description:
          'Hands a task the caller has claimed to a colleague of the same department who holds the task\'s role in a region covering the case; the task becomes claimed by them. ' +
          'Recorded as a TASK_DELEGATED case event (from, to, reason; hash-chained) in the same transaction as the case lock, so a delegation racing a completion of the same task loses or wins whole (409). ' +
          'An unclaimed task must be claimed first (409 CLAIM_REQUIRED). Who: the task\'s assignee.',
        params: idParams,
        body: assignmentBody,
        response: { 200: assignmentResult, ...refusals(...ASSIGNMENT_REFUSALS, 'CLAIM_REQUIRED', 'TASK_CLAIMED_BY_OTHER') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => delegateTask(engine, trx, actor, request.params.id, request.body));
    },
  );

  app.post(
    '/:id/reassign',
    {
      config: { roles: ['supervisor'] },
      schema: {
        operationId: 'reassignTask',
        tags: ['tasks'],
        summary: '改派任务（督办）',
        description:
          'Gives any open or claimed task to a user who may work it (its department and role, a region covering the case), whoever held it; the task becomes claimed by them. ' +
          'Recorded as a TASK_REASSIGNED case event (from, to, reason; hash-chained). Who: a supervisor whose region covers the task (another region: 404).',
        params: idParams,
        body: assignmentBody,
        response: { 200: assignmentResult, ...refusals(...ASSIGNMENT_REFUSALS) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => reassignTask(engine, trx, actor, request.params.id, request.body));
    },
  );
};
export default routes;
