import { assign, emit, setup } from 'xstate';
import { cd, stage, taskState, wd } from '../shared/meta.ts';
import type { CaseEvent } from '../shared/types.ts';

/**
 * 最低生活保障 (低保) — social assistance, minimum living guarantee.
 * Steps and limits follow shared/domain/procedures.md §1. The chart holds no personal data:
 * only what it decides on (amounts, periods, flags).
 */
export interface SocialAssistanceContext {
  confirmationDelegated: boolean;
  referToMedicalAssistance: boolean;
  missingMaterials: string[];
  supplementRounds: number;
  objectionRounds: number;
  proposedMonthlyAmountFen: number | null;
  decision: null | {
    approved: boolean;
    monthlyAmountFen?: number;
    startMonth?: string;
    reason?: string;
    remedy?: string;
  };
  paidPeriods: string[];
  closingReason: string | null;
}

export interface SocialAssistanceInput {
  confirmationDelegated: boolean;
}

const TOWNSHIP_WINDOW = 'township-window';
const TOWNSHIP = 'township-civil-affairs';
const VERIFICATION = 'county-verification';
const COUNTY = 'county-civil-affairs';
const MEDICAL = 'medical-insurance';

const DEFAULT_REMEDY = '如不服本决定，可自收到之日起60日内申请行政复议，或6个月内提起行政诉讼。';

type D = Record<string, any>;
const data = (event: CaseEvent): D => event.data;

export const socialAssistanceMachine = setup({
  types: {
    context: {} as SocialAssistanceContext,
    events: {} as CaseEvent,
    input: {} as SocialAssistanceInput,
    emitted: {} as { type: 'payment'; period: string; amountFen: number } | { type: 'notice'; kind: string },
  },
  guards: {
    confirmationDelegated: ({ context }) => context.confirmationDelegated,
    referredToMedicalAssistance: ({ context }) => context.referToMedicalAssistance,
    periodPayable: ({ context, event }) => {
      const p = data(event).period as string;
      return !context.paidPeriods.includes(p) && p >= (context.decision?.startMonth ?? '');
    },
  },
  actions: {
    recordReason: assign({ closingReason: ({ event }) => data(event).reason ?? null }),
    recordPayment: assign({ paidPeriods: ({ context, event }) => [...context.paidPeriods, data(event).period] }),
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
    emitPayment: emit(({ context, event }) => ({
      type: 'payment' as const,
      period: data(event).period as string,
      amountFen: context.decision!.monthlyAmountFen!,
    })),
  },
}).createMachine({
  id: 'sa',
  initial: 'acceptance',
  context: ({ input }) => ({
    confirmationDelegated: input.confirmationDelegated,
    referToMedicalAssistance: false,
    missingMaterials: [],
    supplementRounds: 0,
    objectionRounds: 0,
    proposedMonthlyAmountFen: null,
    decision: null,
    paidPeriods: [],
    closingReason: null,
  }),
  states: {
    acceptance: {
      id: 'sa.acceptance',
      meta: taskState('已提交，待受理', {
        title: '受理审查',
        department: TOWNSHIP_WINDOW,
        role: 'clerk',
        actions: ['ACCEPT', 'REQUEST_SUPPLEMENT', 'REJECT_APPLICATION'],
        timeLimit: wd(5, '行政许可法第32条'),
      }),
      on: {
        ACCEPT: {
          target: 'handling',
          actions: assign({
            referToMedicalAssistance: ({ event }) => Boolean(data(event).referToMedicalAssistance),
            missingMaterials: [],
          }),
        },
        REQUEST_SUPPLEMENT: {
          target: 'supplement',
          actions: assign({
            missingMaterials: ({ event }) => data(event).missingMaterials,
            supplementRounds: ({ context }) => context.supplementRounds + 1,
          }),
        },
        REJECT_APPLICATION: { target: 'notAccepted', actions: 'recordReason' },
      },
    },
    supplement: {
      id: 'sa.supplement',
      meta: taskState(
        '待补正',
        {
          title: '接收补正材料',
          department: TOWNSHIP_WINDOW,
          role: 'clerk',
          actions: ['SUPPLEMENT_RECEIVED'],
          timeLimit: cd(30, 'local'),
        },
        { clockStopped: true },
      ),
      // Re-submission resumes at acceptance, where the clerk checks the completed file again.
      on: { SUPPLEMENT_RECEIVED: 'acceptance', WITHDRAW: { target: 'withdrawn', actions: 'recordReason' } },
    },
    notAccepted: { type: 'final', meta: stage('不予受理') },
    withdrawn: { type: 'final', meta: stage('已撤回') },
    handling: {
      id: 'sa.handling',
      type: 'parallel',
      on: { WITHDRAW: { target: 'withdrawn', actions: 'recordReason' } },
      onDone: 'completed',
      states: {
        assistance: {
          initial: 'investigation',
          states: {
            // 家庭经济状况调查: two branches in parallel, joined before 初审.
            investigation: {
              type: 'parallel',
              onDone: 'preliminaryReview',
              states: {
                informationCheck: {
                  initial: 'checking',
                  states: {
                    checking: {
                      id: 'sa.informationCheck',
                      meta: taskState('家庭经济状况核对中', {
                        title: '家庭经济状况信息核对',
                        department: VERIFICATION,
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
                  initial: 'visiting',
                  states: {
                    visiting: {
                      id: 'sa.homeVisit',
                      meta: taskState('入户调查中', {
                        title: '入户调查',
                        department: TOWNSHIP,
                        role: 'reviewer',
                        actions: ['HOME_VISIT_COMPLETED'],
                        timeLimit: wd(10, 'local'),
                      }),
                      on: { HOME_VISIT_COMPLETED: 'visited' },
                    },
                    visited: { type: 'final', meta: stage('入户调查已完成') },
                  },
                },
              },
            },
            preliminaryReview: {
              id: 'sa.preliminaryReview',
              meta: taskState('乡镇（街道）初审中', {
                title: '初审',
                department: TOWNSHIP,
                role: 'reviewer',
                actions: ['PRELIMINARY_APPROVE', 'PRELIMINARY_REFUSE'],
                timeLimit: wd(15, 'local'),
              }),
              on: {
                PRELIMINARY_APPROVE: {
                  target: 'publicNotice',
                  actions: assign({ proposedMonthlyAmountFen: ({ event }) => data(event).proposedMonthlyAmountFen }),
                },
                PRELIMINARY_REFUSE: { target: 'refused', actions: 'recordRefusal' },
              },
            },
            publicNotice: {
              id: 'sa.publicNotice',
              meta: taskState(
                '公示中',
                {
                  title: '村（居）公示',
                  department: TOWNSHIP,
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
            countyConfirmation: {
              id: 'sa.countyConfirmation',
              meta: taskState('县级民政部门审核确认中', {
                title: '审核确认',
                department: COUNTY,
                role: 'reviewer',
                actions: ['APPROVE', 'REFUSE'],
                timeLimit: wd(10, '最低生活保障审核确认办法'),
              }),
              on: {
                APPROVE: { target: 'awaitingPayment', actions: 'recordApproval' },
                REFUSE: { target: 'refused', actions: 'recordRefusal' },
              },
            },
            // Delegated regions: the township confirms, collapsing two levels into one.
            townshipConfirmation: {
              id: 'sa.townshipConfirmation',
              meta: taskState('乡镇（街道）审核确认中', {
                title: '审核确认（委托乡镇）',
                department: TOWNSHIP,
                role: 'reviewer',
                actions: ['APPROVE', 'REFUSE'],
                timeLimit: wd(10, '最低生活保障审核确认办法'),
              }),
              on: {
                APPROVE: { target: 'awaitingPayment', actions: 'recordApproval' },
                REFUSE: { target: 'refused', actions: 'recordRefusal' },
              },
            },
            awaitingPayment: {
              id: 'sa.awaitingPayment',
              meta: taskState('已确认，待发放', {
                title: '低保金发放',
                department: COUNTY,
                role: 'reviewer',
                actions: ['PAY_MONTH'],
                timeLimit: cd(31, 'local'),
              }),
              on: {
                PAY_MONTH: { guard: 'periodPayable', target: 'paying', actions: ['recordPayment', 'emitPayment'] },
              },
            },
            paying: {
              id: 'sa.paying',
              meta: taskState('已发放（按月发放中）', {
                title: '低保金按月发放',
                department: COUNTY,
                role: 'reviewer',
                actions: ['PAY_MONTH', 'STOP_PAYMENTS'],
                timeLimit: cd(31, 'local'),
              }),
              on: {
                // Targetless: the monthly payment task stays open while payments continue.
                PAY_MONTH: { guard: 'periodPayable', actions: ['recordPayment', 'emitPayment'] },
                STOP_PAYMENTS: { target: 'stopped', actions: 'recordReason' },
              },
            },
            stopped: { type: 'final', meta: stage('已停发') },
            refused: { type: 'final', meta: stage('不予确认') },
          },
        },
        // 转办: medical assistance decided by the medical-insurance bureau, in parallel.
        medicalAssistance: {
          initial: 'routing',
          states: {
            routing: {
              meta: stage('转办分派中', { hiddenFromCitizen: true }),
              always: [{ guard: 'referredToMedicalAssistance', target: 'review' }, { target: 'notReferred' }],
            },
            notReferred: { type: 'final', meta: stage('未转办医疗救助', { hiddenFromCitizen: true }) },
            review: {
              id: 'sa.medicalAssistance',
              meta: taskState('医疗救助审核中（医保部门）', {
                title: '医疗救助审核（转办）',
                department: MEDICAL,
                role: 'reviewer',
                actions: ['MEDICAL_ASSISTANCE_GRANTED', 'MEDICAL_ASSISTANCE_REFUSED'],
                timeLimit: wd(10, 'local'),
              }),
              on: {
                MEDICAL_ASSISTANCE_GRANTED: 'granted',
                MEDICAL_ASSISTANCE_REFUSED: 'notGranted',
              },
            },
            granted: { type: 'final', meta: stage('医疗救助已批准') },
            notGranted: { type: 'final', meta: stage('医疗救助未批准') },
          },
        },
      },
    },
    completed: { type: 'final', meta: stage('已办结') },
  },
});
