import { setup } from 'xstate';
import { z } from 'zod';
import { branchEvents, branchRegion, intakeActions, intakeContext, missingMaterialsSchema, type IntakeContext } from '../shared/blocks.ts';
import { cd, stage, taskState } from '../shared/meta.ts';
import { labelledEnum, materialCodeSchema, note, reason, residentId, submittedMaterialsSchema } from '../shared/schemas.ts';
import type { CaseEvent, EventSpec, ProcedureDefinition } from '../shared/types.ts';

/**
 * 婚姻状况变更 — marriage registration (on the spot) and divorce by agreement with its 30-day
 * 冷静期 and 30-day appearance window (婚姻登记条例, 国务院令第804号). The two timer-driven
 * transitions are events the deadline engine sends (`sentBy: system`), so they are durable
 * rows, not in-memory timers. Registration is followed by parallel downstream updates.
 */
export interface MarriageContext extends IntakeContext {
  kind: 'marriage' | 'divorce';
}

const DOWNSTREAM = [
  { key: 'household', id: 'mr.household', event: 'HOUSEHOLD_STATUS', title: '户籍婚姻状况变更', stage: '户籍婚姻状况更新中（公安）', doneStage: '户籍婚姻状况已更新', department: 'public-security', timeLimit: cd(5, 'local') },
  { key: 'housingFund', id: 'mr.housingFund', event: 'HOUSING_FUND_RECORD', title: '公积金婚姻信息更新', stage: '公积金信息更新中', doneStage: '公积金信息已更新', department: 'housing-fund', timeLimit: cd(5, 'local') },
  { key: 'socialSecurity', id: 'mr.socialSecurity', event: 'SOCIAL_SECURITY_RECORD', title: '社保婚姻信息更新', stage: '社保信息更新中（人社）', doneStage: '社保信息已更新', department: 'human-resources', timeLimit: cd(5, 'local') },
] as const;

// Either party may withdraw at any point before registration.
const WITHDRAW = { target: 'withdrawn', actions: 'recordReason' } as const;

const examination = (id: string, text: string, registerEvent: string, supplement: boolean): any => ({
  id,
  meta: taskState(text, {
    title: '婚姻登记审查',
    department: 'marriage-registry',
    role: 'clerk',
    actions: [registerEvent, 'REFUSE_REGISTRATION', ...(supplement ? ['REQUEST_SUPPLEMENT'] : [])],
    timeLimit: cd(1, '婚姻登记条例（当场办理）'),
  }),
  on: {
    [registerEvent]: 'registered',
    REFUSE_REGISTRATION: { target: 'refused', actions: 'recordReason' },
    ...(supplement ? { REQUEST_SUPPLEMENT: { target: 'supplement', actions: 'recordMissingMaterials' } } : {}),
    WITHDRAW,
  },
});

const marriageMachine = setup({
  types: { context: {} as MarriageContext, events: {} as CaseEvent, input: {} as { kind: 'marriage' | 'divorce' } },
  guards: { isDivorce: ({ context }) => context.kind === 'divorce' },
  actions: { ...(intakeActions as any) },
  // The config is built from shared helpers; model checking (src/engine/model.ts) proves it.
}).createMachine(<any>{
  id: 'mr',
  initial: 'routing',
  context: ({ input }: { input: { kind: 'marriage' | 'divorce' } }) => ({ ...intakeContext(), kind: input.kind }),
  states: {
    routing: { meta: stage('分派中', { hiddenFromCitizen: true }), always: [{ guard: 'isDivorce', target: 'divorceAcceptance' }, { target: 'marriageExamination' }] },
    marriageExamination: examination('mr.marriageExamination', '结婚登记审查中', 'REGISTER_MARRIAGE', true),
    supplement: {
      id: 'mr.supplement',
      meta: taskState(
        '待补正',
        { title: '接收补正材料', department: 'marriage-registry', role: 'clerk', actions: ['SUPPLEMENT_RECEIVED'], timeLimit: cd(30, 'local'), overdueEvent: 'SUPPLEMENT_EXPIRED' },
        { clockStopped: true },
      ),
      on: {
        SUPPLEMENT_EXPIRED: 'supplementExpired',
        SUPPLEMENT_RECEIVED: [
          { guard: 'isDivorce', target: 'divorceAcceptance', actions: 'clearMissingMaterials' },
          { target: 'marriageExamination', actions: 'clearMissingMaterials' },
        ],
        WITHDRAW,
      },
    },
    divorceAcceptance: {
      id: 'mr.divorceAcceptance',
      meta: taskState('离婚登记申请待受理', {
        title: '离婚登记申请受理',
        department: 'marriage-registry',
        role: 'clerk',
        actions: ['ACCEPT', 'REQUEST_SUPPLEMENT', 'REJECT_APPLICATION'],
        timeLimit: cd(1, '婚姻登记条例'),
      }),
      on: {
        ACCEPT: 'coolingOff',
        REQUEST_SUPPLEMENT: { target: 'supplement', actions: 'recordMissingMaterials' },
        REJECT_APPLICATION: { target: 'notAccepted', actions: 'recordReason' },
        WITHDRAW,
      },
    },
    // 冷静期: 30 calendar days in which either party may withdraw (WITHDRAW at the registry).
    coolingOff: {
      id: 'mr.coolingOff',
      meta: stage('离婚冷静期（30日）', { clockStopped: true, timer: { ...cd(30, '民法典第1077条'), event: 'COOLING_OFF_ENDED' } }),
      on: { COOLING_OFF_ENDED: 'appearanceWindow', WITHDRAW },
    },
    appearanceWindow: {
      id: 'mr.appearanceWindow',
      meta: taskState('待双方亲自到场申请发证（30日内）', {
        title: '离婚登记（双方到场）',
        department: 'marriage-registry',
        role: 'clerk',
        actions: ['BOTH_PARTIES_APPEARED'],
        timeLimit: cd(30, '民法典第1077条'),
        overdueEvent: 'APPEARANCE_WINDOW_EXPIRED',
      }),
      on: {
        BOTH_PARTIES_APPEARED: 'divorceExamination',
        // No-show in the window: deemed withdrawn (视为撤回), by timer.
        APPEARANCE_WINDOW_EXPIRED: 'deemedWithdrawn',
        WITHDRAW,
      },
    },
    divorceExamination: examination('mr.divorceExamination', '离婚登记审查中', 'REGISTER_DIVORCE', false),
    registered: {
      id: 'mr.registered',
      type: 'parallel',
      meta: stage('已登记，相关信息并联变更'),
      onDone: 'completed',
      states: Object.fromEntries(DOWNSTREAM.map((b) => [b.key, branchRegion(b)])) as any,
    },
    refused: { type: 'final', meta: stage('不予登记') },
    supplementExpired: { type: 'final', meta: stage('补正期满未补正，终止办理') },
    notAccepted: { type: 'final', meta: stage('不予受理') },
    withdrawn: { type: 'final', meta: stage('已撤回') },
    deemedWithdrawn: { type: 'final', meta: stage('期满未到场，视为撤回离婚登记申请') },
    completed: { type: 'final', meta: stage('婚姻登记及相关信息变更已办结') },
  },
});

export const materials = [
  { code: 'id-cards', name: '双方居民身份证', required: true },
  { code: 'photos', name: '双方近期半身免冠合影照片', required: true },
  { code: 'divorce-agreement', name: '离婚协议书（离婚登记时）', required: false },
  { code: 'marriage-certificate', name: '结婚证（离婚登记时）', required: false },
];

export const applicationSchema = z.strictObject({
  kind: labelledEnum('登记类型', { marriage: '结婚登记', divorce: '协议离婚登记' }, { message: '登记类型应为结婚（marriage）或离婚（divorce）' }),
  partner: z
    .strictObject({
      name: z.string().trim().min(1).max(50).meta({ title: '另一方姓名' }),
      idNumber: residentId.meta({ title: '另一方身份证号码' }),
    })
    .meta({ title: '另一方当事人', description: '申请人为一方当事人' }),
  submittedMaterials: submittedMaterialsSchema(materials),
});

const partner = { name: '王芳', idNumber: '11010519491231002X' };
// A fresh object per event: each is registered under its own component name (Marriage_ACCEPT…),
// which task actions' `dataSchema` point at; one shared object would get only the first name.
const noData = () => z.strictObject({ note });

export const marriage: ProcedureDefinition<z.infer<typeof applicationSchema>> = {
  id: 'marriage',
  version: 1,
  code: 'HY',
  name: '婚姻状况变更（结婚登记、协议离婚登记）',
  legalBasis: ['婚姻登记条例（国务院令第804号，2025年5月10日施行）', '中华人民共和国民法典第1077条'],
  machine: marriageMachine,
  departments: ['marriage-registry', ...DOWNSTREAM.map((b) => b.department)],
  acceptingDepartments: ['marriage-registry'],
  materials,
  totalTimeLimit: cd(90, '婚姻登记条例（含冷静期与到场期）'),
  applicationSchema,
  events: {
    ACCEPT: { label: '受理离婚登记申请，出具回执', schema: noData() },
    REQUEST_SUPPLEMENT: {
      label: '一次性告知补正',
      schema: z.strictObject({ missingMaterials: missingMaterialsSchema(materialCodeSchema(materials)), note }),
      examples: [{ missingMaterials: ['photos'] }],
    },
    SUPPLEMENT_RECEIVED: { label: '补正材料已收齐', schema: noData() },
    SUPPLEMENT_EXPIRED: { label: '补正期满未补正（终止办理）', schema: z.strictObject({}), sentBy: { system: true } },
    REJECT_APPLICATION: { label: '不予受理', schema: z.strictObject({ reason: reason.meta({ title: '不予受理理由' }) }), examples: [{ reason: '当事人不符合协议离婚条件' }] },
    REGISTER_MARRIAGE: { label: '准予结婚登记，当场发证', schema: noData() },
    REGISTER_DIVORCE: { label: '准予离婚登记，发给离婚证', schema: noData() },
    REFUSE_REGISTRATION: { label: '不予登记（书面说明理由）', schema: z.strictObject({ reason: reason.meta({ title: '不予登记理由' }) }), examples: [{ reason: '当事人未达法定婚龄' }] },
    COOLING_OFF_ENDED: { label: '冷静期届满', schema: z.strictObject({}), sentBy: { system: true } },
    BOTH_PARTIES_APPEARED: { label: '双方亲自到场申请发证', schema: noData() },
    APPEARANCE_WINDOW_EXPIRED: { label: '到场期限届满未到场（视为撤回）', schema: z.strictObject({}), sentBy: { system: true } },
    WITHDRAW: { label: '当事人撤回申请', schema: z.strictObject({ reason: reason.meta({ title: '撤回原因' }) }), sentBy: { role: 'clerk', department: 'accepting' }, examples: [{ reason: '一方撤回离婚登记申请' }] },
    ...(Object.assign({}, ...DOWNSTREAM.map((b) => branchEvents(b))) as Record<string, EventSpec>),
  },
  createInput: ({ application }) => ({ kind: application.kind }),
  variants: [
    { name: '结婚登记', application: { kind: 'marriage', partner }, regionSettings: {} },
    { name: '协议离婚', application: { kind: 'divorce', partner }, regionSettings: {} },
  ],
};
