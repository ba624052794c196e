// FROZEN: the events of version 1 of the periodic-assistance chart. Do not edit.
import { z } from 'zod';
import { intakeEvents, returnEvent } from '../../shared/blocks.ts';
import { FEN, amountFen, note, period, reason } from '../../shared/schemas.ts';
import type { EventSpec, Material } from '../../shared/types.ts';
import type { AssistanceContext } from './machine.ts';

/** The month after the last one paid (or the start month): what the next PAY_MONTH pays. */
export function nextPayablePeriod(ctx: AssistanceContext): string {
  const last = ctx.paidPeriods.at(-1);
  if (!last) return ctx.decision?.startMonth ?? '2026-04';
  const [y, m] = last.split('-').map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

/** Events of the periodic-assistance chart (低保, 特困). */
export function assistanceEvents(materials: Material[]): Record<string, EventSpec> {
  return {
    ...intakeEvents(
      materials,
      z.strictObject({
        referToMedicalAssistance: z.boolean().default(false).meta({ title: '同时转介医疗救助', description: '是：受理时即请医保部门办理医疗救助' }),
        note,
      }),
      [{ referToMedicalAssistance: true }, { referToMedicalAssistance: false }],
    ),
    VERIFICATION_COMPLETED: {
      label: '信息核对完成',
      schema: z.strictObject({
        verifiedMonthlyIncomeFen: z.number().int().min(0).meta({ title: '核对后的家庭月收入', description: FEN }),
        propertyWithinLimit: z.boolean().meta({ title: '家庭财产符合规定标准' }),
        note,
      }),
      examples: [{ verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true }],
    },
    HOME_VISIT_COMPLETED: {
      label: '入户调查完成',
      schema: z.strictObject({
        visitors: z
          .array(z.string().trim().min(1).max(50).meta({ title: '姓名' }))
          .min(2, '入户调查须两名以上工作人员')
          .meta({ title: '入户调查人员', description: '两名以上工作人员的姓名' }),
        findings: z.string().trim().min(2).max(2000).meta({ title: '调查情况' }),
      }),
      examples: [{ visitors: ['陈刚', '刘洋'], findings: '家庭情况属实' }],
    },
    PRELIMINARY_APPROVE: {
      label: '初审通过',
      schema: z.strictObject({ proposedMonthlyAmountFen: amountFen.meta({ title: '拟保障月金额' }), note }),
      examples: [{ proposedMonthlyAmountFen: 98000 }],
    },
    PRELIMINARY_REFUSE: { label: '初审不通过', schema: z.strictObject({ reason: reason.meta({ title: '不通过理由' }) }), examples: [{ reason: '家庭收入高于保障标准' }] },
    PUBLIC_NOTICE_ENDED: { label: '公示期满无异议', schema: z.strictObject({ note }) },
    OBJECTION_RAISED: {
      label: '公示有异议，重新调查',
      schema: z.strictObject({ details: reason.meta({ title: '异议情况' }) }),
      examples: [{ details: '群众反映申请人有隐瞒收入' }],
    },
    APPROVE: {
      label: '审核确认通过',
      schema: z.strictObject({ monthlyAmountFen: amountFen.meta({ title: '月保障金额' }), startMonth: period.meta({ title: '发放起始月份' }) }),
      examples: [{ monthlyAmountFen: 98000, startMonth: '2026-04' }],
    },
    REFUSE: {
      label: '不予确认',
      schema: z.strictObject({
        reason: reason.meta({ title: '不予确认理由' }),
        remedy: z.string().trim().max(500).optional().meta({ title: '救济途径告知', description: '申请人不服时申请行政复议或提起行政诉讼的途径' }),
      }),
      examples: [{ reason: '家庭财产超过规定标准' }],
    },
    RETURN_FOR_REINVESTIGATION: returnEvent('退回重新调查'),
    PAY_MONTH: {
      label: '发放当月救助金',
      schema: z.strictObject({ period: period.meta({ title: '发放月份' }) }),
      refusedMessage: '该月份已发放或早于发放起始月份，不能发放',
      examples: (ctx: AssistanceContext) => [{ period: nextPayablePeriod(ctx) }],
    },
    STOP_PAYMENTS: { label: '停发', schema: z.strictObject({ reason: reason.meta({ title: '停发原因' }) }), examples: [{ reason: '家庭收入已超过保障标准' }] },
    MEDICAL_ASSISTANCE_GRANTED: { label: '医疗救助批准', schema: z.strictObject({ note }) },
    MEDICAL_ASSISTANCE_REFUSED: { label: '医疗救助不予批准', schema: z.strictObject({ reason: reason.meta({ title: '不予批准理由' }) }), examples: [{ reason: '不符合医疗救助条件' }] },
  };
}

export const ASSISTANCE_DEPARTMENTS = [
  'township-window',
  'township-civil-affairs',
  'county-verification',
  'county-civil-affairs',
  'medical-insurance',
];
