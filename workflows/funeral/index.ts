import { assign, setup } from 'xstate';
import { z } from 'zod';
import { branchEvents, branchRegion, intakeActions, intakeContext, intakeEvents, intakeStates, type BranchOptions, type IntakeContext } from '../shared/blocks.ts';
import { cd, stage, wd } from '../shared/meta.ts';
import { note, residentId, submittedMaterialsSchema } from '../shared/schemas.ts';
import type { CaseEvent, ProcedureDefinition } from '../shared/types.ts';

/**
 * 身后一件事 — funeral one-stop (国办函〔2025〕3号). One acceptance, then one parallel branch per
 * department. A branch waiting for 补正 blocks no other; branches that do not apply to this
 * person are skipped at acceptance; the case ends when every branch has.
 */
const BRANCHES = [
  { key: 'household', id: 'fu.household', event: 'HOUSEHOLD', title: '户口注销', stage: '户口注销办理中（公安）', doneStage: '户口已注销', department: 'public-security', timeLimit: wd(2, 'local') },
  { key: 'cremation', id: 'fu.cremation', event: 'CREMATION', title: '火化及火化证明', stage: '火化证明办理中（殡仪馆）', doneStage: '火化证明已出具', department: 'funeral-home', timeLimit: wd(3, 'local') },
  { key: 'civilAffairs', id: 'fu.civilAffairs', event: 'FUNERAL_SUBSIDY', title: '惠民殡葬补贴及停发救助待遇', stage: '殡葬补贴办理中（民政）', doneStage: '殡葬补贴已办结，救助待遇已停发', department: 'county-civil-affairs', timeLimit: wd(10, 'local'), supplement: true },
  { key: 'pension', id: 'fu.pension', event: 'PENSION', title: '养老保险停发、丧葬补助金及抚恤金', stage: '养老保险待遇结算中（人社）', doneStage: '养老保险待遇已结算', department: 'human-resources', timeLimit: wd(10, 'local（社会保险法第49条：丧葬补助金仅一处领取）'), supplement: true, applies: { type: 'applies', params: { branch: 'pension' } } },
  { key: 'medicalInsurance', id: 'fu.medicalInsurance', event: 'MEDICAL_ACCOUNT', title: '医保停保及个人账户继承', stage: '医保个人账户办理中（医保）', doneStage: '医保个人账户已办结', department: 'medical-insurance', timeLimit: wd(10, 'local'), applies: { type: 'applies', params: { branch: 'medicalInsurance' } } },
  { key: 'housingFund', id: 'fu.housingFund', event: 'HOUSING_FUND', title: '住房公积金提取', stage: '公积金提取审核中', doneStage: '公积金提取已办结', department: 'housing-fund', timeLimit: cd(3, '住房公积金管理条例第25条'), supplement: true, refusal: true, applies: { type: 'applies', params: { branch: 'housingFund' } } },
  { key: 'socialSecurityCard', id: 'fu.socialSecurityCard', event: 'SOCIAL_SECURITY_CARD', title: '社保卡注销', stage: '社保卡注销办理中（人社）', doneStage: '社保卡已注销', department: 'human-resources', timeLimit: wd(5, 'local'), applies: { type: 'applies', params: { branch: 'socialSecurityCard' } } },
] as const satisfies ReadonlyArray<BranchOptions & { key: string }>;

type BranchKey = (typeof BRANCHES)[number]['key'];
const OPTIONAL: BranchKey[] = ['pension', 'medicalInsurance', 'housingFund', 'socialSecurityCard'];

export interface FuneralContext extends IntakeContext {
  branches: Record<string, boolean>;
}

const funeralMachine = setup({
  types: { context: {} as FuneralContext, events: {} as CaseEvent, input: {} as { branches: Record<string, boolean> } },
  guards: {
    applies: ({ context }, params: { branch: string }) => context.branches[params.branch] === true,
  },
  actions: {
    ...(intakeActions as any),
    // The clerk may correct which branches apply when accepting (e.g. a housing-fund account found).
    confirmBranches: assign({
      branches: ({ context, event }: { context: FuneralContext; event: CaseEvent }) => ({
        ...context.branches,
        ...((event.data.branches as Record<string, boolean> | undefined) ?? {}),
      }),
    }),
  },
}).createMachine({
  id: 'fu',
  initial: 'acceptance',
  context: ({ input }) => ({ ...intakeContext(), branches: input.branches }),
  states: {
    ...(intakeStates({ prefix: 'fu', department: 'township-window', accept: { target: 'handling', actions: 'confirmBranches' } }) as any),
    handling: {
      id: 'fu.handling',
      type: 'parallel',
      meta: stage('各部门并联办理'),
      onDone: 'completed',
      on: { WITHDRAW: { target: 'withdrawn', actions: 'recordReason' } },
      states: Object.fromEntries(BRANCHES.map((b) => [b.key, branchRegion(b)])) as any,
    },
    completed: { type: 'final', meta: stage('全部事项已办结') },
  },
});

export const materials = [
  { code: 'death-certificate', name: '居民死亡医学证明（推断）书', required: true },
  { code: 'applicant-id', name: '经办人居民身份证', required: true },
  { code: 'relationship-proof', name: '与逝者关系证明', required: true },
  { code: 'household-register', name: '逝者户口簿', required: true },
  { code: 'heirship-proof', name: '继承权公证或相关证明（提取公积金、个人账户时）', required: false },
];

const branchTitle = (key: BranchKey) => BRANCHES.find((b) => b.key === key)!.title;
const branchFlags = z.strictObject(Object.fromEntries(OPTIONAL.map((k) => [k, z.boolean().meta({ title: branchTitle(k) })])) as Record<BranchKey, z.ZodBoolean>);

export const applicationSchema = z.strictObject({
  deceased: z
    .strictObject({
      name: z.string().trim().min(1).max(50).meta({ title: '逝者姓名' }),
      idNumber: residentId.meta({ title: '逝者身份证号码' }),
      dateOfDeath: z.iso.date('请填写死亡日期（YYYY-MM-DD）').meta({ title: '死亡日期', description: '格式 YYYY-MM-DD' }),
    })
    .meta({ title: '逝者信息' }),
  relationship: z.string().trim().min(1).max(20).meta({ title: '申请人与逝者关系', description: '如：子女、配偶' }),
  /** Which optional branches apply to this person (e.g. no housing-fund account → false). */
  branches: branchFlags.meta({ title: '需要办理的事项', description: '户口注销、火化证明、殡葬补贴必办；其余按逝者情况选择' }),
  submittedMaterials: submittedMaterialsSchema(materials),
});

const deceased = { name: '李四', idNumber: '11010519491231002X', dateOfDeath: '2026-03-01' };
const all = { pension: true, medicalInsurance: true, housingFund: true, socialSecurityCard: true };

export const funeral: ProcedureDefinition<z.infer<typeof applicationSchema>> = {
  id: 'funeral',
  version: 1,
  code: 'SH',
  name: '身后一件事（逝者相关事项联办）',
  legalBasis: ['国务院办公厅关于进一步优化政务服务提升行政效能推动"高效办成一件事"的指导意见', '国办函〔2025〕3号', '中华人民共和国社会保险法第49条', '住房公积金管理条例第25条'],
  machine: funeralMachine,
  departments: ['township-window', ...new Set(BRANCHES.map((b) => b.department))],
  acceptingDepartments: ['township-window'],
  materials,
  totalTimeLimit: wd(15, 'local'),
  applicationSchema,
  events: {
    ...intakeEvents(
      materials,
      z.strictObject({
        branches: branchFlags.partial().optional().meta({ title: '更正需要办理的事项', description: '受理时发现情况不同（如查到公积金账户）时填写；未填的事项保持申请时的选择' }),
        note,
      }),
      [{}],
    ),
    ...Object.assign({}, ...BRANCHES.map((b) => branchEvents(b))),
  },
  createInput: ({ application }) => ({
    branches: Object.assign({ household: true, cremation: true, civilAffairs: true }, application.branches),
  }),
  variants: [
    { name: '全部事项', application: { deceased, relationship: '子女', branches: all }, regionSettings: {} },
    {
      name: '无公积金、无养老保险',
      application: { deceased, relationship: '配偶', branches: { ...all, pension: false, housingFund: false } },
      regionSettings: {},
    },
    {
      name: '仅必办事项',
      application: { deceased, relationship: '子女', branches: { pension: false, medicalInsurance: false, housingFund: false, socialSecurityCard: false } },
      regionSettings: {},
    },
  ],
};

