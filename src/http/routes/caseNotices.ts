import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.ts';
import { rejectionNotice, supplementNotice } from '../../engine/queries/notices.ts';
import { idParams, refusals, timeLimitSchema } from '../schemas.ts';

// The window's written documents (一次性告知书, 不予受理通知书) as data, registered under /api/cases.
// Kept apart from routes/cases.ts so the case routes and the documents evolve independently.

const WHO =
  "Who: clerks (role `clerk`) who may see the case — of an accepting department, or of a department that holds or held a task on it — and supervisors and admins, in the case's region; anyone else gets 404 NOT_FOUND as if the case did not exist, reviewers 403 ROLE_REQUIRED.";

const issuerSchema = z
  .object({
    name: z.string().describe('The issuing window as printed, e.g. 北山街道（演示）乡镇（街道）便民服务窗口'),
    department: z.string(),
    departmentName: z.string(),
    regionCode: z.string().describe("行政区划代码 of the case's region"),
    regionName: z.string(),
  })
  .meta({ id: 'NoticeIssuer', description: 'The window that issued the document' });

const common = {
  title: z.string().describe('The document title (zh-CN)'),
  caseId: z.string(),
  reference: z.string().describe('受理编号'),
  procedureId: z.string(),
  procedureName: z.string(),
  issuer: issuerSchema,
  clerk: z.string().describe('Who issued it (the display name recorded with the event)'),
  applicant: z
    .object({ name: z.string().describe('In full: the document is addressed to the applicant'), idNumber: z.string().describe('Masked') })
    .meta({ id: 'NoticeApplicant' }),
  submittedAt: z.string().describe('When the application was registered (ISO instant)'),
  submittedOn: z.string().describe('The same, as a China-time date people read, e.g. 2026年3月2日'),
  issuedAt: z.string().describe('When the decision was recorded (ISO instant)'),
  issuedOn: z.string().describe('The date printed on the document (China time), e.g. 2026年3月2日'),
  eventSeq: z.number().int().describe('The event in the case history this document records'),
  legalBasis: z.array(z.string()).describe('The statute this document rests on, quoted (zh-CN)'),
  procedureBasis: z.array(z.string()).describe("The procedure's own legal basis (Procedure.legalBasis)"),
};

export const supplementNoticeSchema = z
  .object({
    kind: z.literal('supplement'),
    ...common,
    round: z.number().int().describe('Which 补正 of the case this is (1 for the first)'),
    missingMaterials: z
      .array(z.object({ code: z.string(), name: z.string().describe("The material's name in the procedure (zh-CN)"), required: z.boolean() }).meta({ id: 'NoticeMaterial' }))
      .describe('Every missing material the clerk listed, in order'),
    note: z.string().nullable().describe("The clerk's note with the notice"),
    deadline: z
      .object({
        dueAt: z.string().nullable().describe('End of the 补正 period (the supplement task due date)'),
        text: z.string().describe('The end of the period as printed after "补正期限：", e.g. "2026年4月1日前"; without a date "待定（2027年节假日安排尚未公布）", never a code'),
        timeLimit: timeLimitSchema.nullable(),
      })
      .meta({ id: 'NoticeDeadline' }),
    status: z
      .enum(['awaiting', 'received', 'expired', 'closed'])
      .describe('awaiting: the period runs; received: materials came in; expired: the period passed and the case ended; closed: otherwise ended (e.g. withdrawn)'),
    instruction: z.string().describe('What the applicant is to do'),
    clockStopped: z.string().describe('That the period does not count against the time limit'),
    onExpiry: z.string().describe('What happens when the period passes without the materials'),
  })
  .meta({ id: 'SupplementNotice', description: '一次性告知书 (补正告知), from the latest REQUEST_SUPPLEMENT of the case' });

export const rejectionNoticeSchema = z
  .object({
    kind: z.literal('rejection'),
    ...common,
    reason: z.string().describe('The reasons for not accepting, as the clerk recorded them'),
    remedy: z.string().describe("The applicant's remedies (行政复议 within 60 days, 行政诉讼 within 6 months)"),
  })
  .meta({ id: 'RejectionNotice', description: '不予受理通知书, from the REJECT_APPLICATION of the case' });

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const roles = ['clerk', 'supervisor', 'admin'] as const;

  app.get(
    '/:id/notices/supplement',
    {
      config: { roles: [...roles] },
      schema: {
        operationId: 'getSupplementNotice',
        tags: ['cases'],
        summary: '一次性告知书：需补正的全部材料、补正期限与法律依据',
        description:
          'The 一次性告知书 of the latest 补正 (REQUEST_SUPPLEMENT) of the case, as data to print: issuing window, reference, applicant, every missing material by name, the end of the 补正 period, the legal basis, that the period does not count against the time limit and what happens when it passes. ' +
          `${WHO} A case without a 补正 is 404 NOTICE_NOT_ISSUED.`,
        params: idParams,
        response: { 200: supplementNoticeSchema, ...refusals('NOT_FOUND', 'NOTICE_NOT_ISSUED', 'ROLE_REQUIRED') },
      },
    },
    async (request) => supplementNotice(engine, db, actorOf(request), request.params.id),
  );

  app.get(
    '/:id/notices/rejection',
    {
      config: { roles: [...roles] },
      schema: {
        operationId: 'getRejectionNotice',
        tags: ['cases'],
        summary: '不予受理通知书：理由、法律依据与救济途径',
        description:
          "The 不予受理通知书 of the case (its REJECT_APPLICATION), as data to print: issuing window, reference, applicant, the reasons, the legal basis and the applicant's remedies. " +
          `${WHO} A case that was not refused is 404 NOTICE_NOT_ISSUED.`,
        params: idParams,
        response: { 200: rejectionNoticeSchema, ...refusals('NOT_FOUND', 'NOTICE_NOT_ISSUED', 'ROLE_REQUIRED') },
      },
    },
    async (request) => rejectionNotice(engine, db, actorOf(request), request.params.id),
  );
};
export default routes;
