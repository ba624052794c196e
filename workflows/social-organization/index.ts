import { setup } from 'xstate';
import { z } from 'zod';
import { branchEvents, branchRegion, intakeActions, intakeContext, intakeEvents, intakeStates, returnEvent, type IntakeContext } from '../shared/blocks.ts';
import { cd, stage, taskState, wd } from '../shared/meta.ts';
import { FEN, labelledEnum, note, reason, submittedMaterialsSchema } from '../shared/schemas.ts';
import type { CaseEvent, EventSpec, ProcedureDefinition } from '../shared/types.ts';

/**
 * 社会组织登记 — registration of 社会团体, 民办非企业单位 (社会服务机构) and 基金会:
 * 名称核准 → sponsor consent, or direct registration for the four categories → 受理 (补正) →
 * 审查 (60 days; charities 30) → certificate (≤ 10 WD) → parallel follow-ups → 公告.
 */
const CATEGORY_LABELS = { 'industry-association': '行业协会商会类', 'science-technology': '科技类', charity: '公益慈善类', 'community-service': '城乡社区服务类' } as const;

export interface SocialOrgContext extends IntakeContext {
  directRegistration: boolean;
}

const FOLLOW_UPS = [
  { key: 'seal', id: 'so.seal', event: 'SEAL_FILING', title: '印章刻制备案', stage: '印章备案中（公安）', doneStage: '印章已备案', department: 'public-security', timeLimit: wd(5, 'local') },
  { key: 'bankAccount', id: 'so.bankAccount', event: 'BANK_ACCOUNT_FILING', title: '银行开户备案', stage: '银行账户备案中', doneStage: '银行账户已备案', department: 'social-org-registry', timeLimit: wd(20, 'local') },
  { key: 'tax', id: 'so.tax', event: 'TAX_REGISTRATION', title: '税务登记信息确认', stage: '税务信息确认中', doneStage: '税务信息已确认', department: 'tax', timeLimit: wd(5, 'local') },
  { key: 'announcement', id: 'so.announcement', event: 'ANNOUNCEMENT', title: '成立登记公告', stage: '公告中', doneStage: '已公告', department: 'social-org-registry', timeLimit: wd(5, 'local') },
] as const;

const socialOrgMachine = setup({
  types: { context: {} as SocialOrgContext, events: {} as CaseEvent, input: {} as { directRegistration: boolean } },
  guards: { direct: ({ context }) => context.directRegistration },
  actions: { ...(intakeActions as any) },
}).createMachine({
  id: 'so',
  initial: 'nameCheck',
  context: ({ input }) => ({ ...intakeContext(), directRegistration: input.directRegistration }),
  states: {
    nameCheck: {
      id: 'so.nameCheck',
      meta: taskState('名称核准中', {
        title: '名称核准',
        department: 'social-org-registry',
        role: 'reviewer',
        actions: ['NAME_APPROVED', 'NAME_REJECTED'],
        timeLimit: wd(20, '社会组织名称管理办法（民政部令第69号）；承诺时限 local'),
      }),
      on: {
        NAME_APPROVED: [{ guard: 'direct', target: 'acceptance' }, { target: 'sponsorReview' }],
        NAME_REJECTED: { target: 'nameRejected', actions: 'recordReason' },
        WITHDRAW: { target: 'withdrawn', actions: 'recordReason' },
      },
    },
    sponsorReview: {
      id: 'so.sponsorReview',
      meta: taskState('业务主管单位审查中', {
        title: '业务主管单位审查同意',
        department: 'sponsor-unit',
        role: 'reviewer',
        actions: ['SPONSOR_CONSENTED', 'SPONSOR_REFUSED'],
        timeLimit: wd(20, 'local'),
      }),
      on: {
        SPONSOR_CONSENTED: 'acceptance',
        SPONSOR_REFUSED: { target: 'sponsorRefused', actions: 'recordReason' },
        WITHDRAW: { target: 'withdrawn', actions: 'recordReason' },
      },
    },
    ...(intakeStates({ prefix: 'so', department: 'social-org-registry', accept: 'review' }) as any),
    review: {
      id: 'so.review',
      meta: taskState('登记审查中', {
        title: '成立登记审查',
        department: 'social-org-registry',
        role: 'reviewer',
        actions: ['APPROVE_REGISTRATION', 'REFUSE_REGISTRATION', 'RETURN_TO_ACCEPTANCE'],
        timeLimit: cd(60, '社会团体登记管理条例第12条；民办非企业单位登记管理暂行条例第11条；基金会管理条例第11条（慈善组织30日，慈善法第10条）'),
      }),
      on: {
        APPROVE_REGISTRATION: 'certificate',
        REFUSE_REGISTRATION: { target: 'refused', actions: 'recordReason' },
        RETURN_TO_ACCEPTANCE: { target: 'acceptance', actions: 'recordReturn' },
        WITHDRAW: { target: 'withdrawn', actions: 'recordReason' },
      },
    },
    certificate: {
      id: 'so.certificate',
      meta: taskState('准予登记，待领取登记证书', {
        title: '发放登记证书',
        department: 'social-org-registry',
        role: 'clerk',
        actions: ['CERTIFICATE_ISSUED'],
        timeLimit: wd(10, '行政许可法第44条'),
      }),
      on: { CERTIFICATE_ISSUED: 'followUps' },
    },
    followUps: {
      id: 'so.followUps',
      type: 'parallel',
      meta: stage('登记后续事项并联办理'),
      onDone: 'completed',
      states: Object.fromEntries(FOLLOW_UPS.map((b) => [b.key, branchRegion(b)])) as any,
    },
    nameRejected: { type: 'final', meta: stage('名称未予核准') },
    sponsorRefused: { type: 'final', meta: stage('业务主管单位不同意') },
    refused: { type: 'final', meta: stage('不予登记（已书面告知理由）') },
    completed: { type: 'final', meta: stage('已登记并公告，办结') },
  },
});

export const materials = [
  { code: 'application-form', name: '登记申请书', required: true },
  { code: 'sponsor-consent', name: '业务主管单位批准文件（直接登记的除外）', required: false },
  { code: 'capital-proof', name: '验资报告或资金证明', required: true },
  { code: 'premises-proof', name: '住所使用权证明', required: true },
  { code: 'founders-identity', name: '发起人和拟任负责人基本情况、身份证明', required: true },
  { code: 'charter-draft', name: '章程草案', required: true },
  { code: 'member-list', name: '会员名单（社会团体：个人会员≥50或单位会员≥30）', required: false },
];

export const applicationSchema = z
  .strictObject({
    organizationName: z.string().trim().min(2).max(100).meta({ title: '拟登记组织名称', description: '与名称核准时一致' }),
    kind: labelledEnum(
      '组织类型',
      { association: '社会团体', 'private-non-enterprise': '民办非企业单位（社会服务机构）', foundation: '基金会' },
      { message: '类型应为社会团体、民办非企业单位或基金会' },
    ),
    category: labelledEnum('业务类别', { ...CATEGORY_LABELS, other: '其他' }).meta({ description: '前四类可直接登记，其他须经业务主管单位审查同意' }),
    registrationPath: labelledEnum('登记方式', { sponsor: '经业务主管单位审查同意后登记', direct: '直接登记' }),
    registeredCapitalFen: z.number().int().min(0).meta({ title: '注册资金（基金会为原始基金）', description: `${FEN}；基金会不低于200万元` }),
    submittedMaterials: submittedMaterialsSchema(materials),
  })
  .refine((a) => a.registrationPath === 'sponsor' || a.category !== 'other', {
    path: ['registrationPath'],
    message: '仅行业协会商会、科技类、公益慈善类、城乡社区服务类可直接登记',
  })
  .refine((a) => a.kind !== 'foundation' || a.registeredCapitalFen >= 2_000_000_00, {
    path: ['registeredCapitalFen'],
    message: '基金会原始基金不低于200万元',
  });

const sample = { organizationName: '西湖区社区志愿服务协会', kind: 'association', category: 'community-service', registeredCapitalFen: 3_000_000, registrationPath: 'direct' };

export const socialOrganization: ProcedureDefinition<z.infer<typeof applicationSchema>> = {
  id: 'social-organization',
  version: 1,
  code: 'ZZ',
  name: '社会组织成立登记',
  legalBasis: ['社会团体登记管理条例', '民办非企业单位登记管理暂行条例', '基金会管理条例', '中华人民共和国慈善法第10条', '中华人民共和国行政许可法第32、44条'],
  machine: socialOrgMachine,
  departments: ['social-org-registry', 'sponsor-unit', 'public-security', 'tax'],
  acceptingDepartments: ['social-org-registry'],
  materials,
  totalTimeLimit: cd(90, 'local'),
  applicationSchema,
  events: {
    ...intakeEvents(materials),
    NAME_APPROVED: { label: '名称核准通过', schema: z.strictObject({ note }) },
    NAME_REJECTED: { label: '名称不予核准', schema: z.strictObject({ reason: reason.meta({ title: '不予核准理由' }) }), examples: [{ reason: '名称与已登记组织重名' }] },
    SPONSOR_CONSENTED: { label: '业务主管单位同意', schema: z.strictObject({ note }) },
    SPONSOR_REFUSED: { label: '业务主管单位不同意', schema: z.strictObject({ reason: reason.meta({ title: '不同意理由' }) }), examples: [{ reason: '业务范围不符' }] },
    APPROVE_REGISTRATION: { label: '准予登记', schema: z.strictObject({ note }) },
    REFUSE_REGISTRATION: { label: '不予登记（书面说明理由）', schema: z.strictObject({ reason: reason.meta({ title: '不予登记理由' }) }), examples: [{ reason: '会员数量不符合条件' }] },
    RETURN_TO_ACCEPTANCE: returnEvent('退回受理环节'),
    CERTIFICATE_ISSUED: { label: '登记证书已发放', schema: z.strictObject({ certificateNumber: z.string().trim().min(1).max(40).meta({ title: '登记证书编号', description: '统一社会信用代码' }) }), examples: [{ certificateNumber: '51330106MJ0000001X' }] },
    ...(Object.assign({}, ...FOLLOW_UPS.map((b) => branchEvents(b))) as Record<string, EventSpec>),
  },
  createInput: ({ application }) => ({ directRegistration: application.registrationPath === 'direct' }),
  variants: [
    { name: '直接登记', application: sample, regionSettings: {} },
    { name: '业务主管单位审查', application: { ...sample, category: 'other', registrationPath: 'sponsor' }, regionSettings: {} },
  ],
};
