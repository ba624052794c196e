import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { closeLead, convertLead, closeLeadSchema, convertLeadSchema, getLead, leadInputSchema, listLeads, registerLead } from '../../engine/commands/leads.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { idParams, refusals } from '../schemas.ts';

// 主动发现 (issue 9, docs/leads.md): grid workers register leads; the township's social-assistance
// office closes them with a reason or converts them into a 临时救助 case.

const STATUSES = ['open', 'converted', 'closed'] as const;
const URGENCIES = ['normal', 'urgent'] as const;

const leadSchema = z
  .object({
    id: z.string(),
    regionCode: z.string(),
    urgency: z.enum(URGENCIES).describe('urgent: reviewed within 1 working day and converted on the 临时救助 urgent path (先行救助); normal: 5 working days'),
    status: z.enum(STATUSES).describe('open: awaiting the township review; converted: a case was opened (caseId); closed: with closeReason'),
    household: z
      .object({
        headName: z.string().describe('Masked, e.g. 张*三'),
        headIdNumber: z.string().describe('Masked'),
        phone: z.string().describe('Masked, e.g. 138****8000'),
        address: z.string(),
        size: z.number().int(),
      })
      .describe('Personal data masked for every caller; the conversion reads the encrypted originals server-side'),
    situation: z.string(),
    suggestedProcedure: z.string().describe('What the grid worker suggests (temporary-assistance, social-assistance, destitute-support); conversion opens 临时救助'),
    registeredBy: z.string().describe("The grid worker's display name"),
    registeredAt: z.string(),
    reviewDueAt: z.string().nullable().describe('Review due date (end of the working day); null when the calendar year is not loaded (reviewDueNote)'),
    reviewDueNote: z.string().nullable(),
    reviewDueProvisional: z.boolean().describe('reviewDueAt was counted through a year whose holidays are not announced yet: an estimate, recomputed when the official schedule is loaded'),
    overdue: z.boolean().describe('Open and past reviewDueAt, at the moment of the request'),
    reviewedBy: z.string().nullable(),
    reviewedAt: z.string().nullable(),
    closeReason: z.string().nullable(),
    caseId: z.string().nullable().describe('The case opened from it'),
    caseReference: z.string().nullable().optional().describe('受理编号 of that case (one lead, and on conversion)'),
  })
  .meta({ id: 'Lead' });

const leadPageSchema = z
  .object({
    items: z.array(leadSchema),
    total: z.number().int().describe('Leads matching the filters (stops at 10,000; totalCapped)'),
    totalCapped: z.boolean(),
    page: z.number().int(),
    pageSize: z.number().int(),
  })
  .meta({ id: 'LeadPage' });

const WHO_READ = 'Who: the grid worker who registered it (role `gridWorker`, own leads only), reviewers of township-civil-affairs, supervisors and admins — each in their region and below.';
const WHO_REVIEW = 'Who: reviewers of township-civil-affairs whose region covers the lead (another department: 403 NOT_YOUR_DEPARTMENT; another region: 404).';

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;

  app.post(
    '/',
    {
      config: { roles: ['gridWorker'] },
      schema: {
        operationId: 'registerLead',
        tags: ['leads'],
        summary: '网格员登记主动发现线索',
        description:
          'Registers a household that may need assistance, in the grid worker\'s region: the head of household (ID number encrypted at rest), address, size, situation, suggested procedure and urgency. ' +
          'The township must review it within 1 working day (urgent) or 5 (normal) — local limits. Who: grid workers (role `gridWorker`).',
        body: leadInputSchema,
        response: { 201: leadSchema, ...refusals('ROLE_REQUIRED', 'VALIDATION_FAILED') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 201, (trx) => registerLead(engine, trx, actor, request.body));
    },
  );

  app.get(
    '/',
    {
      config: { roles: ['gridWorker', 'reviewer', 'supervisor', 'admin'] },
      schema: {
        operationId: 'listLeads',
        tags: ['leads'],
        summary: '主动发现线索列表',
        description: `Leads newest first, filtered by status, urgency and overdue (open and past its review due date); page/pageSize. Personal data masked. ${WHO_READ} Other reviewers: 403 NOT_PERMITTED.`,
        querystring: z.object({
          status: z.enum(STATUSES).optional(),
          urgency: z.enum(URGENCIES).optional(),
          overdue: z
            .enum(['true', 'false'])
            .optional()
            .transform((v) => v === 'true')
            .describe('true: only open leads past their review due date'),
          page: z.coerce.number().int().min(1).max(100000).default(1),
          pageSize: z.coerce.number().int().min(1).max(100).default(20),
        }),
        response: { 200: leadPageSchema, ...refusals('ROLE_REQUIRED', 'NOT_PERMITTED') },
      },
    },
    async (request) => listLeads(engine, db, actorOf(request), request.query),
  );

  app.get(
    '/:id',
    {
      config: { roles: ['gridWorker', 'reviewer', 'supervisor', 'admin'] },
      schema: {
        operationId: 'getLead',
        tags: ['leads'],
        summary: '线索详情',
        description: `One lead, personal data masked, with the reference of the case opened from it. ${WHO_READ} A lead the caller may not see: 404.`,
        params: idParams,
        response: { 200: leadSchema, ...refusals('ROLE_REQUIRED', 'NOT_PERMITTED', 'NOT_FOUND') },
      },
    },
    async (request) => getLead(engine, db, actorOf(request), request.params.id),
  );

  app.post(
    '/:id/close',
    {
      config: { roles: ['reviewer'] },
      schema: {
        operationId: 'closeLead',
        tags: ['leads'],
        summary: '线索审核：不予转办，关闭',
        description: `Closes an open lead with the reason (zh-CN). A lead already closed or converted: 409 LEAD_NOT_OPEN. ${WHO_REVIEW}`,
        params: idParams,
        body: closeLeadSchema,
        response: { 200: leadSchema, ...refusals('ROLE_REQUIRED', 'NOT_YOUR_DEPARTMENT', 'NOT_FOUND', 'LEAD_NOT_OPEN', 'VALIDATION_FAILED') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => closeLead(engine, trx, actor, request.params.id, request.body));
    },
  );

  app.post(
    '/:id/convert',
    {
      config: { roles: ['reviewer'] },
      schema: {
        operationId: 'convertLead',
        tags: ['leads'],
        summary: '线索审核：转为临时救助申请（紧急线索走急难型先行救助）',
        description:
          "Opens a 临时救助 case on the household's behalf in the lead's region, through the same engine path as createCase (the household head is the applicant; the situation is the reason), and links it: the lead gets caseId, the CASE_OPENED payload notes leadId. " +
          'An urgent lead is accepted at once on the urgent path (ACCEPT_URGENT: 先行救助 by the township within 1 working day); a normal one waits at the window\'s 受理 task. ' +
          `The steps are recorded under the reviewer's name with "（主动发现）". A lead already closed or converted: 409 LEAD_NOT_OPEN. ${WHO_REVIEW}`,
        params: idParams,
        body: convertLeadSchema,
        response: {
          200: leadSchema,
          ...refusals('ROLE_REQUIRED', 'NOT_YOUR_DEPARTMENT', 'NOT_FOUND', 'LEAD_NOT_OPEN', 'VALIDATION_FAILED', 'INVALID_APPLICATION', 'CALENDAR_YEAR_MISSING'),
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, (trx) => convertLead(engine, trx, actor, request.params.id, request.body));
    },
  );
};
export default routes;
