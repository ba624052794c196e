import { and, assign, emit, setup } from 'xstate';
import { intakeActions, intakeContext, intakeStates, type IntakeContext } from '../shared/blocks.ts';
import { DEFAULT_REMEDY } from '../shared/legalTexts.ts';
import { cd, stage, taskState, wd } from '../shared/meta.ts';
import type { CaseEvent, TimeLimit } from '../shared/types.ts';
import { RELIEF_KEYS, referralRegion, type ReferralOutcome, type ReliefKey } from './referrals.ts';

/**
 * The periodic-assistance chart shared by 最低生活保障 (低保) and 特困供养: the same skeleton
 * (shared/domain/procedures.md §1) with per-procedure options. The chart holds no personal data:
 * only what it decides on (amounts, periods, flags).
 */
export interface AssistanceContext extends IntakeContext {
  confirmationDelegated: boolean;
  applicantIsMinor: boolean;
  /** Specialised reliefs referred (转办), at acceptance or after approval. */
  referrals: ReliefKey[];
  /** What each referred relief's department decided. */
  referralOutcomes: Partial<Record<ReliefKey, ReferralOutcome>>;
  objectionRounds: number;
  proposedMonthlyAmountFen: number | null;
  decision: null | { approved: boolean; monthlyAmountFen?: number; startMonth?: string; reason?: string; remedy?: string };
  paidPeriods: string[];
}

export interface AssistanceInput {
  confirmationDelegated: boolean;
  applicantIsMinor: boolean;
}

export interface AssistanceChartOptions {
  /** Chart id and state-id prefix. */
  prefix: string;
  homeVisitLimit: TimeLimit;
  /** 特困: minors are never publicised, so 公示 is skipped for them. */
  skipPublicNoticeForMinors: boolean;
  paymentTitle: string;
}

// The remedy text lives with the other legal wording the documents print.
export { DEFAULT_REMEDY };

type D = Record<string, any>;
const data = (event: CaseEvent): D => event.data;

export function buildAssistanceMachine(o: AssistanceChartOptions) {
  const p = o.prefix;
  const confirmation = (id: string, text: string, title: string, department: string) => ({
    id: `${p}.${id}`,
    meta: taskState(text, {
      title,
      department,
      role: 'reviewer',
      actions: ['APPROVE', 'REFUSE', 'RETURN_FOR_REINVESTIGATION'],
      timeLimit: wd(10, '最低生活保障审核确认办法'),
    }),
    on: {
      APPROVE: { target: 'awaitingPayment', actions: 'recordApproval' },
      REFUSE: { target: 'refused', actions: 'recordRefusal' },
      // 退回: the confirming level sends the file back for a new investigation, with its reason.
      RETURN_FOR_REINVESTIGATION: { target: 'investigation', actions: 'recordReturn' },
    },
  });

  return setup({
    types: {
      context: {} as AssistanceContext,
      events: {} as CaseEvent,
      input: {} as AssistanceInput,
      emitted: {} as { type: 'payment'; period: string; amountFen: number },
    },
    guards: {
      confirmationDelegated: ({ context }) => context.confirmationDelegated,
      referred: ({ context }, params: { relief: ReliefKey }) => context.referrals.includes(params.relief),
      // A late referral names reliefs not referred yet (one event opens them all, or none).
      newReferrals: ({ context, event }) => {
        const list = (data(event).reliefs as ReliefKey[] | undefined) ?? [];
        return list.length > 0 && list.every((r) => !context.referrals.includes(r));
      },
      publicNoticeSkipped: ({ context }) => o.skipPublicNoticeForMinors && context.applicantIsMinor,
      periodPayable: ({ context, event }) => {
        const period = data(event).period as string;
        return !context.paidPeriods.includes(period) && period >= (context.decision?.startMonth ?? '');
      },
    },
    actions: {
      ...(intakeActions as any),
      recordApproval: assign({
        decision: ({ event }) => ({
          approved: true,
          monthlyAmountFen: data(event).monthlyAmountFen as number,
          startMonth: data(event).startMonth as string,
        }),
      }),
      recordRefusal: assign({
        decision: ({ event }) => ({
          approved: false,
          reason: data(event).reason as string,
          remedy: (data(event).remedy as string | undefined) ?? DEFAULT_REMEDY,
        }),
      }),
      recordReferrals: assign({ referrals: ({ event }) => [...((data(event).referrals as ReliefKey[] | undefined) ?? [])] }),
      addReferrals: assign({ referrals: ({ context, event }) => [...context.referrals, ...(data(event).reliefs as ReliefKey[])] }),
      recordReferralOutcome: assign({
        referralOutcomes: ({ context, event }, params: { relief: ReliefKey; granted: boolean }) => ({
          ...context.referralOutcomes,
          [params.relief]: params.granted
            ? { granted: true, measures: data(event).measures as string[], amountFen: data(event).amountFen as number | undefined, note: data(event).note as string | undefined }
            : { granted: false, reason: data(event).reason as string },
        }),
      }),
      recordProposal: assign({ proposedMonthlyAmountFen: ({ event }) => data(event).proposedMonthlyAmountFen as number }),
      recordPayment: assign({ paidPeriods: ({ context, event }) => [...context.paidPeriods, data(event).period as string] }),
      emitPayment: emit(({ context, event }) => ({
        type: 'payment' as const,
        period: data(event).period as string,
        amountFen: context.decision!.monthlyAmountFen!,
      })),
    },
  }).createMachine({
    id: p,
    initial: 'acceptance',
    context: ({ input }) => ({
      ...intakeContext(),
      confirmationDelegated: input.confirmationDelegated,
      applicantIsMinor: input.applicantIsMinor,
      referrals: [],
      referralOutcomes: {},
      objectionRounds: 0,
      proposedMonthlyAmountFen: null,
      decision: null,
      paidPeriods: [],
    }),
    states: {
      ...(intakeStates({
        prefix: p,
        department: 'township-window',
        accept: {
          target: 'handling',
          actions: 'recordReferrals',
        },
      }) as any),
      handling: {
        id: `${p}.handling`,
        type: 'parallel',
        meta: stage('协同办理中'),
        on: { WITHDRAW: { target: 'withdrawn', actions: 'recordReason' } },
        onDone: 'completed',
        states: {
          assistance: {
            meta: stage('救助审核'),
            initial: 'investigation',
            states: {
              // 家庭经济状况调查: two branches in parallel, joined before 初审.
              investigation: {
                type: 'parallel',
                meta: stage('家庭经济状况调查'),
                onDone: 'preliminaryReview',
                states: {
                  informationCheck: {
                    meta: stage('信息核对'),
                    initial: 'checking',
                    states: {
                      checking: {
                        id: `${p}.informationCheck`,
                        meta: taskState('家庭经济状况核对中', {
                          title: '家庭经济状况信息核对',
                          department: 'county-verification',
                          role: 'reviewer',
                          actions: ['VERIFICATION_COMPLETED'],
                          timeLimit: wd(10, 'local'),
                        }),
                        on: { VERIFICATION_COMPLETED: 'checked' },
                      },
                      checked: { type: 'final', meta: stage('信息核对已完成') },
                    },
                  },
                  homeVisit: {
                    meta: stage('入户调查'),
                    initial: 'visiting',
                    states: {
                      visiting: {
                        id: `${p}.homeVisit`,
                        meta: taskState('入户调查中', {
                          title: '入户调查',
                          department: 'township-civil-affairs',
                          role: 'reviewer',
                          actions: ['HOME_VISIT_COMPLETED'],
                          timeLimit: o.homeVisitLimit,
                        }),
                        on: { HOME_VISIT_COMPLETED: 'visited' },
                      },
                      visited: { type: 'final', meta: stage('入户调查已完成') },
                    },
                  },
                },
              },
              preliminaryReview: {
                id: `${p}.preliminaryReview`,
                meta: taskState('乡镇（街道）初审中', {
                  title: '初审',
                  department: 'township-civil-affairs',
                  role: 'reviewer',
                  actions: ['PRELIMINARY_APPROVE', 'PRELIMINARY_REFUSE'],
                  timeLimit: wd(15, 'local'),
                }),
                on: {
                  PRELIMINARY_APPROVE: [
                    { guard: and(['publicNoticeSkipped', 'confirmationDelegated']), target: 'townshipConfirmation', actions: 'recordProposal' },
                    { guard: 'publicNoticeSkipped', target: 'countyConfirmation', actions: 'recordProposal' },
                    { target: 'publicNotice', actions: 'recordProposal' },
                  ],
                  PRELIMINARY_REFUSE: { target: 'refused', actions: 'recordRefusal' },
                },
              },
              publicNotice: {
                id: `${p}.publicNotice`,
                meta: taskState(
                  '公示中',
                  {
                    title: '村（居）公示',
                    department: 'township-civil-affairs',
                    role: 'reviewer',
                    actions: ['PUBLIC_NOTICE_ENDED', 'OBJECTION_RAISED'],
                    timeLimit: cd(7, '社会救助暂行办法; 最低生活保障审核确认办法'),
                  },
                  // Whether 公示 counts in the total limit is local; the default excludes it.
                  { clockStopped: true },
                ),
                on: {
                  PUBLIC_NOTICE_ENDED: [
                    { guard: 'confirmationDelegated', target: 'townshipConfirmation' },
                    { target: 'countyConfirmation' },
                  ],
                  // An objection sends the case back for a new investigation, 初审 and 公示.
                  OBJECTION_RAISED: {
                    target: 'investigation',
                    actions: assign({ objectionRounds: ({ context }) => context.objectionRounds + 1 }),
                  },
                },
              },
              countyConfirmation: confirmation('countyConfirmation', '县级民政部门审核确认中', '审核确认', 'county-civil-affairs'),
              // Delegated regions: the township confirms, collapsing two levels into one.
              townshipConfirmation: confirmation('townshipConfirmation', '乡镇（街道）审核确认中', '审核确认（委托乡镇）', 'township-civil-affairs'),
              awaitingPayment: {
                id: `${p}.awaitingPayment`,
                meta: taskState('已确认，待发放', {
                  title: o.paymentTitle,
                  department: 'county-civil-affairs',
                  role: 'reviewer',
                  actions: ['PAY_MONTH', 'REFER_TO_SPECIALISED_RELIEF'],
                  timeLimit: cd(31, 'local'),
                }),
                on: {
                  PAY_MONTH: { guard: 'periodPayable', target: 'paying', actions: ['recordPayment', 'emitPayment'] },
                  // 转办 after approval: targetless, so the payment task stays as it is (referrals.ts).
                  REFER_TO_SPECIALISED_RELIEF: { guard: 'newReferrals', actions: 'addReferrals' },
                },
              },
              paying: {
                id: `${p}.paying`,
                meta: taskState('已发放（按月发放中）', {
                  title: `${o.paymentTitle}（按月）`,
                  department: 'county-civil-affairs',
                  role: 'reviewer',
                  actions: ['PAY_MONTH', 'STOP_PAYMENTS', 'REFER_TO_SPECIALISED_RELIEF'],
                  timeLimit: cd(31, 'local'),
                }),
                on: {
                  REFER_TO_SPECIALISED_RELIEF: { guard: 'newReferrals', actions: 'addReferrals' },
                  // Targetless: the monthly payment task stays open while payments continue.
                  PAY_MONTH: { guard: 'periodPayable', actions: ['recordPayment', 'emitPayment'] },
                  STOP_PAYMENTS: { target: 'stopped', actions: 'recordReason' },
                },
              },
              stopped: { type: 'final', meta: stage('已停发') },
              refused: { type: 'final', meta: stage('不予确认') },
            },
          },
          // 转办: one region per specialised relief, each with its own department, task and limit.
          ...Object.fromEntries(RELIEF_KEYS.map((key) => [`${key}Assistance`, referralRegion(p, key)])),
        },
      },
      completed: { type: 'final', meta: stage('已办结') },
    },
  });
}

export const socialAssistanceMachine = buildAssistanceMachine({
  prefix: 'sa',
  homeVisitLimit: wd(10, 'local'),
  skipPublicNoticeForMinors: false,
  paymentTitle: '低保金发放',
});
