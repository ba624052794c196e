import { z } from 'zod';
import { labelledEnum, submittedMaterialsSchema } from '../shared/schemas.ts';
import { wd } from '../shared/meta.ts';
import type { ProcedureDefinition } from '../shared/types.ts';
import { ASSISTANCE_DEPARTMENTS, assistanceEvents } from '../social-assistance/events.ts';
import { buildAssistanceMachine } from '../social-assistance/machine.ts';

export const materials = [
  { code: 'application-form', name: '特困人员救助供养申请书', required: true },
  { code: 'id-hukou', name: '居民身份证、户口簿', required: true },
  { code: 'income-declaration', name: '收入和财产状况申报', required: true },
  { code: 'no-support-proof', name: '无劳动能力、无生活来源、无法定赡养抚养扶养义务人或其无履行能力的证明', required: true },
  { code: 'verification-authorization', name: '家庭经济状况核对授权书', required: true },
];

export const applicationSchema = z.strictObject({
  supportMode: labelledEnum('供养方式', { home: '分散供养', institution: '集中供养' }, { message: '供养方式应为分散供养（home）或集中供养（institution）' }),
  selfCareAbility: labelledEnum('生活自理能力', { full: '具备生活自理能力', partial: '部分丧失生活自理能力', none: '完全丧失生活自理能力' }),
  reason: z.string().trim().min(2, '请填写申请理由').max(2000).meta({ title: '申请理由' }),
  submittedMaterials: submittedMaterialsSchema(materials),
});

const sample = { supportMode: 'home', selfCareAbility: 'partial', reason: '无劳动能力、无生活来源' };

/** 特困人员救助供养: the 低保 skeleton, 15-WD township investigation, and no 公示 for minors. */
export const destituteSupport: ProcedureDefinition<z.infer<typeof applicationSchema>> = {
  id: 'destitute-support',
  // 2: 转办 to four specialised reliefs, like 低保 (docs/referrals.md).
  version: 2,
  code: 'TK',
  name: '特困人员救助供养申请',
  legalBasis: ['社会救助暂行办法第三章', '社会救助暂行办法第五至八章（专项救助）、第60条（转办）', '特困人员认定办法（民发〔2021〕43号）'],
  machine: buildAssistanceMachine({
    prefix: 'tk',
    homeVisitLimit: wd(15, '特困人员认定办法'),
    skipPublicNoticeForMinors: true,
    paymentTitle: '特困供养金发放',
  }),
  departments: ASSISTANCE_DEPARTMENTS,
  acceptingDepartments: ['township-window'],
  materials,
  totalTimeLimit: wd(30, '特困人员认定办法'),
  applicationSchema,
  events: assistanceEvents(materials),
  createInput: ({ regionSettings, applicantAge }) => ({
    confirmationDelegated: regionSettings.assistanceConfirmationDelegated === true,
    applicantIsMinor: applicantAge < 18,
  }),
  variants: [
    { name: '成年申请人', application: sample, regionSettings: {}, applicantAge: 70 },
    { name: '未成年申请人（不公示）', application: sample, regionSettings: {}, applicantAge: 12 },
    { name: '审核确认委托乡镇', application: sample, regionSettings: { assistanceConfirmationDelegated: true }, applicantAge: 70 },
  ],
};
