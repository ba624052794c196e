import { assign } from 'xstate';
import { z } from 'zod';
import { cd, stage, taskState, wd } from './meta.ts';
import { materialCodeSchema, note, reason } from './schemas.ts';
import type { CaseEvent, EventSpec, Material, Role, TimeLimit } from './types.ts';

/**
 * Building blocks every procedure shares: intake at the window (受理 / 补正 / 不予受理), withdrawal,
 * and department branches for joint handling. They return plain XState config, so charts stay
 * ordinary statecharts that tools can read.
 */

/** Context fields the shared blocks read and write; every procedure's context includes them. */
export interface IntakeContext {
  missingMaterials: string[];
  supplementRounds: number;
  closingReason: string | null;
  /** Department branches that applied to this case and those returned to a step, by key. */
  returnedWith: string | null;
}

export const intakeContext = (): IntakeContext => ({
  missingMaterials: [],
  supplementRounds: 0,
  closingReason: null,
  returnedWith: null,
});

const data = (event: CaseEvent): Record<string, any> => event.data;

/** Actions the blocks name; spread into each procedure's `setup({ actions })`. */
export const intakeActions = {
  recordMissingMaterials: assign(({ context, event }: { context: IntakeContext; event: CaseEvent }) => ({
    missingMaterials: data(event).missingMaterials as string[],
    supplementRounds: context.supplementRounds + 1,
  })),
  clearMissingMaterials: assign({ missingMaterials: () => [] as string[] }),
  recordReason: assign({ closingReason: ({ event }: { event: CaseEvent }) => (data(event).reason as string) ?? null }),
  recordReturn: assign({ returnedWith: ({ event }: { event: CaseEvent }) => (data(event).reason as string) ?? null }),
} as const;

export interface IntakeOptions {
  /** The id prefix of the chart, e.g. 'sa'. */
  prefix: string;
  department: string;
  role?: Role;
  /** Where ACCEPT goes, with optional actions; may be guarded alternatives. */
  accept: unknown;
  /** More events the acceptance step offers (e.g. an urgent path). */
  extraAcceptActions?: Record<string, unknown>;
  title?: string;
  timeLimit?: TimeLimit;
}

/**
 * acceptance ⇄ supplement (clock stopped) → notAccepted | withdrawn. 补正 is one notice listing
 * every missing item (行政许可法 art. 32); re-submission resumes at acceptance.
 */
export function intakeStates(o: IntakeOptions) {
  const extra = o.extraAcceptActions ?? {};
  return {
    acceptance: {
      id: `${o.prefix}.acceptance`,
      meta: taskState('已提交，待受理', {
        title: o.title ?? '受理审查',
        department: o.department,
        role: o.role ?? 'clerk',
        actions: ['ACCEPT', ...Object.keys(extra), 'REQUEST_SUPPLEMENT', 'REJECT_APPLICATION'],
        timeLimit: o.timeLimit ?? wd(5, '行政许可法第32条'),
      }),
      on: {
        ACCEPT: o.accept,
        ...extra,
        REQUEST_SUPPLEMENT: { target: 'supplement', actions: 'recordMissingMaterials' },
        REJECT_APPLICATION: { target: 'notAccepted', actions: 'recordReason' },
        WITHDRAW: { target: 'withdrawn', actions: 'recordReason' },
      },
    },
    supplement: {
      id: `${o.prefix}.supplement`,
      meta: taskState(
        '待补正',
        {
          title: '接收补正材料',
          department: o.department,
          role: o.role ?? 'clerk',
          actions: ['SUPPLEMENT_RECEIVED'],
          timeLimit: cd(30, 'local'),
          // An unanswered 补正 notice ends the case when its period runs out.
          overdueEvent: 'SUPPLEMENT_EXPIRED',
        },
        { clockStopped: true },
      ),
      on: {
        SUPPLEMENT_RECEIVED: { target: 'acceptance', actions: 'clearMissingMaterials' },
        SUPPLEMENT_EXPIRED: 'supplementExpired',
        WITHDRAW: { target: 'withdrawn', actions: 'recordReason' },
      },
    },
    supplementExpired: { type: 'final', meta: stage('补正期满未补正，终止办理') },
    notAccepted: { type: 'final', meta: stage('不予受理') },
    withdrawn: { type: 'final', meta: stage('已撤回') },
  } as const;
}

/** 补正: every missing item of the checklist at once (one notice, 行政许可法 art. 32). */
export function missingMaterialsSchema(materialCode: z.ZodType) {
  return z.array(materialCode).min(1, '请列出全部缺少的材料').meta({ title: '缺少的材料', description: '一次性列出全部需补正的材料（材料代码）' });
}

/** Event specs for the intake block, checked against the procedure's materials list. */
export function intakeEvents(materials: Material[], acceptSchema: z.ZodType = z.strictObject({ note }), acceptExamples?: EventSpec['examples']): Record<string, EventSpec> {
  const materialCode = materialCodeSchema(materials);
  return {
    ACCEPT: { label: '受理', schema: acceptSchema, examples: acceptExamples },
    REQUEST_SUPPLEMENT: {
      label: '一次性告知补正',
      schema: z.strictObject({ missingMaterials: missingMaterialsSchema(materialCode), note }),
      examples: [{ missingMaterials: [materials[0].code] }],
    },
    REJECT_APPLICATION: { label: '不予受理', schema: z.strictObject({ reason: reason.meta({ title: '不予受理理由' }) }), examples: [{ reason: '不符合受理条件' }] },
    SUPPLEMENT_RECEIVED: { label: '补正材料已收齐', schema: z.strictObject({ note }) },
    SUPPLEMENT_EXPIRED: { label: '补正期满未补正（终止办理）', schema: z.strictObject({}), sentBy: { system: true } },
    WITHDRAW: {
      label: '申请人撤回申请',
      schema: z.strictObject({ reason: reason.meta({ title: '撤回原因' }) }),
      sentBy: { role: 'clerk', department: 'accepting' },
      examples: [{ reason: '申请人主动撤回' }],
    },
  };
}

export interface BranchOptions {
  /** State id prefix, e.g. 'funeral.housingFund'. */
  id: string;
  /** Event prefix, e.g. 'HOUSING_FUND' → HOUSING_FUND_DONE. Unique per branch: one event must never move two regions. */
  event: string;
  title: string;
  stage: string;
  doneStage: string;
  department: string;
  timeLimit: TimeLimit;
  /** Guard deciding at entry whether the branch applies; omitted = always applies. */
  applies?: unknown;
  /** The department may ask the applicant for more (补正) without blocking other branches. */
  supplement?: boolean;
  /** The department may refuse (e.g. no entitlement); the branch still ends. */
  refusal?: boolean;
}

/** One department's branch of joint handling: (routing →) pending ⇄ supplement → done | refused | skipped. */
export function branchRegion(o: BranchOptions) {
  const states: Record<string, unknown> = {
    pending: {
      id: `${o.id}.pending`,
      meta: taskState(o.stage, {
        title: o.title,
        department: o.department,
        role: 'reviewer',
        actions: [`${o.event}_DONE`, ...(o.supplement ? [`${o.event}_SUPPLEMENT_REQUESTED`] : []), ...(o.refusal ? [`${o.event}_REFUSED`] : [])],
        timeLimit: o.timeLimit,
      }),
      on: {
        [`${o.event}_DONE`]: 'done',
        ...(o.supplement ? { [`${o.event}_SUPPLEMENT_REQUESTED`]: 'supplement' } : {}),
        ...(o.refusal ? { [`${o.event}_REFUSED`]: 'refused' } : {}),
      },
    },
    done: { type: 'final', meta: stage(o.doneStage) },
  };
  if (o.supplement) {
    states.supplement = {
      id: `${o.id}.supplement`,
      meta: taskState(
        `${o.title}待补正`,
        { title: `${o.title}（补正）`, department: o.department, role: 'reviewer', actions: [`${o.event}_SUPPLEMENT_RECEIVED`], timeLimit: cd(30, 'local') },
        { clockStopped: true },
      ),
      on: { [`${o.event}_SUPPLEMENT_RECEIVED`]: 'pending' },
    };
  }
  if (o.refusal) states.refused = { type: 'final', meta: stage(`${o.title}：不予办理`) };
  if (o.applies) {
    states.routing = { meta: stage('分派中', { hiddenFromCitizen: true }), always: [{ guard: o.applies, target: 'pending' }, { target: 'skipped' }] };
    states.skipped = { type: 'final', meta: stage(`${o.title}：不适用`, { hiddenFromCitizen: true }) };
  }
  return { initial: o.applies ? 'routing' : 'pending', meta: stage(o.title), states };
}

/** Event specs for a branch built by `branchRegion`. */
export function branchEvents(o: Pick<BranchOptions, 'event' | 'title' | 'supplement' | 'refusal'>): Record<string, EventSpec> {
  const specs: Record<string, EventSpec> = {
    [`${o.event}_DONE`]: { label: `${o.title}：已办结`, schema: z.strictObject({ note }) },
  };
  if (o.supplement) {
    specs[`${o.event}_SUPPLEMENT_REQUESTED`] = {
      label: `${o.title}：一次性告知补正`,
      schema: z.strictObject({
        items: z
          .array(z.string().trim().min(1).max(100).meta({ title: '材料名称' }))
          .min(1, '请列出需补正的材料')
          .meta({ title: '需补正的材料', description: '一次性列出全部需补正的材料' }),
        note,
      }),
      examples: [{ items: ['继承权公证书'] }],
    };
    specs[`${o.event}_SUPPLEMENT_RECEIVED`] = { label: `${o.title}：补正材料已收齐`, schema: z.strictObject({ note }) };
  }
  if (o.refusal) {
    specs[`${o.event}_REFUSED`] = { label: `${o.title}：不予办理`, schema: z.strictObject({ reason: reason.meta({ title: '不予办理理由' }) }), examples: [{ reason: '不符合办理条件' }] };
  }
  return specs;
}

/** The return-to-an-earlier-step event reviewers use, with its reason. */
export const returnEvent = (label: string): EventSpec => ({
  label,
  schema: z.strictObject({ reason: reason.meta({ title: '退回原因' }) }),
  examples: [{ reason: '材料需重新核实' }],
});
