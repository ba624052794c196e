import { z } from 'zod';
import { amountFen, note, period, reason } from '../shared/schemas.ts';
import { wd } from '../shared/meta.ts';
import type { ProcedureDefinition } from '../shared/types.ts';
import { socialAssistanceMachine } from './machine.ts';

export const materials = [
  { code: 'application-form', name: '最低生活保障申请书', required: true },
  { code: 'id-hukou', name: '居民身份证、户口簿', required: true },
  { code: 'income-declaration', name: '家庭收入和财产状况申报', required: true },
  { code: 'verification-authorization', name: '家庭经济状况核对授权书', required: true },
  { code: 'disability-illness-proof', name: '残疾或重病证明（如有）', required: false },
  { code: 'relative-declaration', name: '近亲属备案声明（如有）', required: false },
];
const materialCode = z.enum(materials.map((m) => m.code) as [string, ...string[]]);

export const applicationSchema = z.strictObject({
  householdSize: z.number().int().min(1, '家庭人口至少1人').max(30),
  monthlyHouseholdIncomeFen: z.number().int().min(0).max(100_000_000),
  reason: z.string().trim().min(2, '请填写申请理由').max(2000),
  submittedMaterials: z.array(materialCode).max(materials.length).default([]),
});
export type SocialAssistanceApplication = z.infer<typeof applicationSchema>;

export const socialAssistance: ProcedureDefinition<SocialAssistanceApplication> = {
  id: 'social-assistance',
  version: 1,
  code: 'DB',
  name: '最低生活保障（低保）申请',
  legalBasis: ['社会救助暂行办法', '最低生活保障审核确认办法（民发〔2021〕57号）', '中华人民共和国行政许可法'],
  machine: socialAssistanceMachine,
  departments: {
    'township-window': '乡镇（街道）便民服务窗口',
    'township-civil-affairs': '乡镇（街道）社会救助经办机构',
    'county-verification': '县级居民家庭经济状况核对机构',
    'county-civil-affairs': '县级民政局',
    'medical-insurance': '县级医疗保障局',
  },
  materials,
  totalTimeLimit: wd(30, '最低生活保障审核确认办法（特殊情况45个工作日）'),
  applicationSchema,
  events: {
    ACCEPT: {
      label: '受理',
      schema: z.strictObject({ referToMedicalAssistance: z.boolean().default(false), note }),
    },
    REQUEST_SUPPLEMENT: {
      label: '一次性告知补正',
      schema: z.strictObject({ missingMaterials: z.array(materialCode).min(1, '请列出全部缺少的材料'), note }),
    },
    REJECT_APPLICATION: { label: '不予受理', schema: z.strictObject({ reason }) },
    SUPPLEMENT_RECEIVED: { label: '补正材料已收齐', schema: z.strictObject({ note }) },
    VERIFICATION_COMPLETED: {
      label: '信息核对完成',
      schema: z.strictObject({
        verifiedMonthlyIncomeFen: z.number().int().min(0),
        propertyWithinLimit: z.boolean(),
        note,
      }),
    },
    HOME_VISIT_COMPLETED: {
      label: '入户调查完成',
      schema: z.strictObject({
        visitors: z.array(z.string().trim().min(1).max(50)).min(2, '入户调查须两名以上工作人员'),
        findings: z.string().trim().min(2).max(2000),
      }),
    },
    PRELIMINARY_APPROVE: { label: '初审通过', schema: z.strictObject({ proposedMonthlyAmountFen: amountFen, note }) },
    PRELIMINARY_REFUSE: { label: '初审不通过', schema: z.strictObject({ reason }) },
    PUBLIC_NOTICE_ENDED: { label: '公示期满无异议', schema: z.strictObject({ note }) },
    OBJECTION_RAISED: { label: '公示有异议，重新调查', schema: z.strictObject({ details: reason }) },
    APPROVE: {
      label: '审核确认通过',
      schema: z.strictObject({ monthlyAmountFen: amountFen, startMonth: period }),
    },
    REFUSE: { label: '不予确认', schema: z.strictObject({ reason, remedy: z.string().trim().max(500).optional() }) },
    PAY_MONTH: {
      label: '发放当月低保金',
      schema: z.strictObject({ period }),
      refusedMessage: '该月份已发放或早于发放起始月份，不能发放',
    },
    STOP_PAYMENTS: { label: '停发', schema: z.strictObject({ reason }) },
    MEDICAL_ASSISTANCE_GRANTED: { label: '医疗救助批准', schema: z.strictObject({ note }) },
    MEDICAL_ASSISTANCE_REFUSED: { label: '医疗救助不予批准', schema: z.strictObject({ reason }) },
    WITHDRAW: { label: '申请人撤回申请', schema: z.strictObject({ reason }), sentBy: { roles: ['clerk'] } },
  },
  createInput: ({ regionSettings }) => ({
    confirmationDelegated: regionSettings.assistanceConfirmationDelegated === true,
  }),
};
