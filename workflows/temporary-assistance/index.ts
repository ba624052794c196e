import { z } from 'zod';
import { intakeEvents, returnEvent } from '../shared/blocks.ts';
import { wd } from '../shared/meta.ts';
import { FEN, amountFen, labelledEnum, note, reason, submittedMaterialsSchema } from '../shared/schemas.ts';
import type { ProcedureDefinition } from '../shared/types.ts';
import { temporaryAssistanceMachine, type TemporaryAssistanceContext } from './machine.ts';

export const materials = [
  { code: 'application-form', name: '临时救助申请书', required: true },
  { code: 'id-hukou', name: '居民身份证、户口簿', required: true },
  { code: 'hardship-proof', name: '遭遇急难情形的证明（医疗票据、事故证明等）', required: true },
  { code: 'verification-authorization', name: '家庭经济状况核对授权书', required: true },
];

export const applicationSchema = z.strictObject({
  hardship: labelledEnum('急难类型', { illness: '疾病', accident: '意外事故', disaster: '自然灾害', other: '其他' }, { message: '请选择急难类型' }),
  requestedAmountFen: z.number().int().min(0).max(100_000_000).meta({ title: '申请救助金额', description: FEN }),
  reason: z.string().trim().min(2, '请填写申请理由').max(2000).meta({ title: '申请理由' }),
  submittedMaterials: submittedMaterialsSchema(materials),
});

/** Township may approve up to this amount unless the region sets `temporaryAssistanceTownshipLimitFen` (local). */
export const DEFAULT_TOWNSHIP_LIMIT_FEN = 100_000;

const sample = { hardship: 'illness', requestedAmountFen: 300000, reason: '家庭成员突发重病' };

export const temporaryAssistance: ProcedureDefinition<z.infer<typeof applicationSchema>> = {
  id: 'temporary-assistance',
  version: 1,
  code: 'LS',
  name: '临时救助申请',
  legalBasis: ['社会救助暂行办法第十一章', '国务院关于全面建立临时救助制度的通知（国发〔2014〕47号）'],
  machine: temporaryAssistanceMachine,
  departments: ['township-window', 'township-civil-affairs', 'county-civil-affairs'],
  acceptingDepartments: ['township-window'],
  materials,
  totalTimeLimit: wd(30, 'local'),
  applicationSchema,
  events: {
    ...intakeEvents(materials),
    ACCEPT_URGENT: { label: '受理（急难型，先行救助）', schema: z.strictObject({ note }) },
    URGENT_RELIEF_PAID: { label: '先行救助已发放', schema: z.strictObject({ amountFen: amountFen.meta({ title: '先行救助金额' }), note }), examples: [{ amountFen: 50000 }] },
    PAPERWORK_COMPLETED: { label: '申请手续已补齐', schema: z.strictObject({ note }) },
    REVIEW_APPROVE: {
      label: '审核通过',
      schema: z.strictObject({ amountFen: amountFen.meta({ title: '拟救助金额' }), note }),
      examples: [{ amountFen: 50000 }, { amountFen: 300000 }],
    },
    REVIEW_REFUSE: { label: '审核不通过', schema: z.strictObject({ reason: reason.meta({ title: '不通过理由' }) }), examples: [{ reason: '不符合临时救助条件' }] },
    PUBLIC_NOTICE_ENDED: { label: '公示期满无异议', schema: z.strictObject({ note }) },
    OBJECTION_RAISED: { label: '公示有异议，重新审核', schema: z.strictObject({ details: reason.meta({ title: '异议情况' }) }), examples: [{ details: '群众异议' }] },
    APPROVE: {
      label: '审批通过',
      schema: z.strictObject({ amountFen: amountFen.meta({ title: '批准救助金额' }) }),
      examples: (ctx: TemporaryAssistanceContext) => [{ amountFen: ctx.proposedAmountFen ?? 50000 }],
    },
    REFUSE: { label: '不予批准', schema: z.strictObject({ reason: reason.meta({ title: '不予批准理由' }) }), examples: [{ reason: '不符合临时救助条件' }] },
    RETURN_FOR_REVIEW: returnEvent('退回重新审核'),
    PAY_ONCE: { label: '发放临时救助金', schema: z.strictObject({ note }) },
    FUNDS_RECOVERED: { label: '先行救助金已追回', schema: z.strictObject({ note }) },
    RECOVERY_WAIVED: { label: '核销不予追回', schema: z.strictObject({ reason: reason.meta({ title: '核销理由' }) }), examples: [{ reason: '确属生活困难，经批准核销' }] },
  },
  createInput: ({ regionSettings }) => ({
    townshipLimitFen: Number(regionSettings.temporaryAssistanceTownshipLimitFen ?? DEFAULT_TOWNSHIP_LIMIT_FEN),
  }),
  modelKey: (ctx: TemporaryAssistanceContext) => ({ urgent: ctx.urgent, small: (ctx.proposedAmountFen ?? 0) <= ctx.townshipLimitFen }),
  variants: [{ name: '标准', application: sample, regionSettings: {} }],
};
