import { z } from 'zod';
import { FEN, submittedMaterialsSchema } from '../shared/schemas.ts';
import { wd } from '../shared/meta.ts';
import type { ProcedureDefinition } from '../shared/types.ts';
import { ASSISTANCE_DEPARTMENTS, assistanceEvents } from './events.ts';
import { socialAssistanceMachine } from './machine.ts';

export const materials = [
  { code: 'application-form', name: '最低生活保障申请书', required: true },
  { code: 'id-hukou', name: '居民身份证、户口簿', required: true },
  { code: 'income-declaration', name: '家庭收入和财产状况申报', required: true },
  { code: 'verification-authorization', name: '家庭经济状况核对授权书', required: true },
  { code: 'disability-illness-proof', name: '残疾或重病证明（如有）', required: false },
  { code: 'relative-declaration', name: '近亲属备案声明（如有）', required: false },
];

export const applicationSchema = z.strictObject({
  householdSize: z.number().int().min(1, '家庭人口至少1人').max(30).meta({ title: '家庭人口数', description: '共同生活的家庭成员人数' }),
  monthlyHouseholdIncomeFen: z.number().int().min(0).max(100_000_000).meta({ title: '家庭月收入', description: FEN }),
  reason: z.string().trim().min(2, '请填写申请理由').max(2000).meta({ title: '申请理由' }),
  submittedMaterials: submittedMaterialsSchema(materials),
});
export type SocialAssistanceApplication = z.infer<typeof applicationSchema>;

const sampleApplication = { householdSize: 3, monthlyHouseholdIncomeFen: 120000, reason: '因病致贫' };

export const socialAssistance: ProcedureDefinition<SocialAssistanceApplication> = {
  id: 'social-assistance',
  // 2: 转办 to four specialised reliefs, at acceptance or after approval (version 1: medical only; docs/referrals.md).
  version: 2,
  code: 'DB',
  name: '最低生活保障（低保）申请',
  legalBasis: ['社会救助暂行办法（第五至八章 专项救助，第60条 转办）', '最低生活保障审核确认办法（民发〔2021〕57号）', '中华人民共和国行政许可法'],
  machine: socialAssistanceMachine,
  departments: ASSISTANCE_DEPARTMENTS,
  acceptingDepartments: ['township-window'],
  materials,
  totalTimeLimit: wd(30, '最低生活保障审核确认办法（特殊情况45个工作日）'),
  applicationSchema,
  events: assistanceEvents(materials),
  createInput: ({ regionSettings }) => ({
    confirmationDelegated: regionSettings.assistanceConfirmationDelegated === true,
    applicantIsMinor: false,
  }),
  variants: [
    { name: '两级审核确认', application: sampleApplication, regionSettings: {} },
    { name: '审核确认委托乡镇', application: sampleApplication, regionSettings: { assistanceConfirmationDelegated: true } },
  ],
};
