import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { runTransaction } from '../../db/transaction.ts';
import { documentAs } from '../contract/documented.ts';
import { COMMAND_REFUSALS, EVENT_SENDER_ROLES, eventEnvelope, procedureOfReference } from '../contract/commands.ts';
import { openCaseUnion } from '../contract/procedureSchemas.ts';
import { caseViewSchema, idParams, openMap, openedCaseSchema, refusals, transitionResultSchema, withActionSchemas } from '../schemas.ts';

export const fullApplicantSchema = z
  .object({ name: z.string(), idNumber: z.string(), phone: z.string(), address: z.string().optional(), bankCard: z.string().optional() })
  .meta({ id: 'FullApplicant', description: 'Applicant with ID number, phone and bank card in full' });

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const latest = (procedureId: string) => engine.registry.latest(procedureId);

  app.post(
    '/',
    {
      config: { roles: ['clerk'] },
      schema: {
        operationId: 'openCase',
        tags: ['cases'],
        summary: '窗口受理：登记一件新申请',
        description:
          "Opens a case of any procedure; the body is one branch per procedure (discriminated on `procedureId`) with that procedure's applicant and application schema. " +
          "Who: a clerk (role `clerk`) of one of the procedure's accepting departments; the case belongs to the clerk's region. " +
          'The response carries the tracking code once — hand it to the citizen; only its hash is stored.',
        // The engine checks applicant and application with the very schemas the branches show, so a
        // refusal keeps its code (INVALID_APPLICATION, UNKNOWN_PROCEDURE) and field paths.
        body: documentAs(
          z.object({
            procedureId: z.string().min(1).max(64),
            applicant: z.unknown().describe('Applicant: name, idNumber, phone, address?, bankCard?'),
            application: z.unknown().describe("Application data, validated by the procedure's schema"),
          }),
          openCaseUnion(engine.registry.list()),
        ),
        response: { 201: openedCaseSchema, ...refusals('NOT_ACCEPTING_DEPARTMENT', 'UNKNOWN_PROCEDURE', 'INVALID_APPLICATION', 'CALENDAR_YEAR_MISSING') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 201, (trx) => engine.openCase(trx, actor, request.body));
    },
  );

  app.get(
    '/:id',
    {
      schema: {
        operationId: 'getCase',
        tags: ['cases'],
        summary: '办件详情：当前状态、待办任务、可执行操作、历史',
        description:
          'The case with its state, open and closed tasks, the events the caller may send now (`allowedEvents`, each with its data schema), history and payments; personal data masked, and household incomes (application, facts, event payloads) left out unless the caller handles the case (the accepting window, or a reviewer of a department that holds or held a task on it). ' +
          "Who: any staff user whose region covers the case's region.",
        params: idParams,
        response: { 200: caseViewSchema, ...refusals('NOT_FOUND') },
      },
    },
    async (request) => {
      const view = await engine.caseView(db, actorOf(request), request.params.id);
      // The engine types state values as unknown; the serializer checks them against StateValue.
      return withActionSchemas(latest(view.procedureId), view) as z.output<typeof caseViewSchema>;
    },
  );

  app.get(
    '/:id/personal-data',
    {
      schema: {
        operationId: 'getPersonalData',
        tags: ['cases'],
        summary: '查看完整个人信息（仅限受理窗口及承办部门，每次查看均留痕）',
        description:
          'Full ID number, phone and bank card of the applicant and application. Who: clerks of an accepting department, and reviewers of a department that holds or held a task on the case, in its region. Every access is recorded.',
        params: idParams,
        response: {
          200: z
            .object({
              caseId: z.string(),
              reference: z.string(),
              applicant: fullApplicantSchema,
              application: openMap("The application as validated by the procedure's <Procedure>_Application schema, unmasked"),
            })
            .meta({ id: 'PersonalData' }),
          ...refusals('NOT_FOUND', 'NOT_ENTITLED'),
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      reply.header('cache-control', 'no-store');
      // Opened from the stored, validated applicant; the serializer checks the shape.
      return runTransaction(db, (trx) => engine.personalData(trx, actor, request.params.id)) as Promise<{ caseId: string; reference: string; applicant: z.output<typeof fullApplicantSchema>; application: Record<string, unknown> }>;
    },
  );

  app.get(
    '/:id/audit/verify',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        operationId: 'verifyCaseAudit',
        tags: ['audit'],
        summary: '核验办件日志哈希链（SM3），指出第一条被篡改的记录',
        description: "Recomputes the case's SM3 event-log chain and names the first broken row. Who: supervisors and admins whose region covers the case.",
        params: idParams,
        response: {
          200: z
            .object({
              caseId: z.string(),
              reference: z.string(),
              algorithm: z.literal('SM3'),
              valid: z.boolean(),
              events: z.number().int(),
              firstBroken: z.object({ seq: z.number().int(), id: z.string(), reason: z.string() }).nullable(),
            })
            .meta({ id: 'AuditVerification' }),
          ...refusals('NOT_FOUND', 'ROLE_REQUIRED'),
        },
      },
    },
    async (request) => engine.verifyAudit(db, actorOf(request), request.params.id),
  );

  app.post(
    '/:id/events',
    {
      config: { roles: EVENT_SENDER_ROLES },
      schema: {
        operationId: 'sendCaseEvent',
        tags: ['cases'],
        summary: '向办件发送事件（推进流程）',
        description:
          "Sends an event to a case of any procedure. `type` and `data` are checked against the case's procedure; for typed bodies use the per-procedure operation (e.g. sendSocialAssistanceEvent), which takes the same body. " +
          "Who: the holder (department, role, region) of an open task carrying the event, or the event's declared sender (e.g. WITHDRAW at the accepting window). " +
          'The response lists what the caller may do next.',
        params: idParams,
        body: eventEnvelope,
        response: { 200: transitionResultSchema, ...refusals(...COMMAND_REFUSALS) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const result = await command(db, request, reply, 200, (trx) => engine.sendEvent(trx, actor, request.params.id, request.body), request.body, { commitWithLastWrite: true });
      return withActionSchemas(procedureOfReference(engine.registry, result.reference), result);
    },
  );
};
export default routes;
