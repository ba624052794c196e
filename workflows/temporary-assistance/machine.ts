import { assign, emit, setup } from 'xstate';
import { intakeActions, intakeContext, intakeStates, type IntakeContext } from '../shared/blocks.ts';
import { cd, stage, taskState, wd } from '../shared/meta.ts';
import type { CaseEvent } from '../shared/types.ts';

/**
 * 临时救助 — temporary assistance. Two paths from one acceptance:
 * ordinary (乡镇审核 → 公示 → approval by the township for small amounts, else the county → one
 * payment) and urgent 急难 (先行救助: pay first, complete the paperwork afterwards, then the
 * ordinary review confirms the relief or orders it recovered).
 */
export interface TemporaryAssistanceContext extends IntakeContext {
  urgent: boolean;
  townshipLimitFen: number;
  proposedAmountFen: number | null;
  urgentAmountFen: number | null;
  decision: null | { approved: boolean; amountFen?: number; reason?: string };
}

const data = (event: CaseEvent): Record<string, any> => event.data;

export const temporaryAssistanceMachine = setup({
  types: {
    context: {} as TemporaryAssistanceContext,
    events: {} as CaseEvent,
    input: {} as { townshipLimitFen: number },
    emitted: {} as { type: 'payment'; period: string; amountFen: number },
  },
  guards: {
    urgent: ({ context }) => context.urgent,
    withinTownshipLimit: ({ context }) => (context.proposedAmountFen ?? Infinity) <= context.townshipLimitFen,
  },
  actions: {
    ...(intakeActions as any),
    recordProposal: assign({ proposedAmountFen: ({ event }) => data(event).amountFen as number }),
    recordApproval: assign({ decision: ({ event }) => ({ approved: true, amountFen: data(event).amountFen as number }) }),
    recordRefusal: assign({ decision: ({ event }) => ({ approved: false, reason: data(event).reason as string }) }),
    recordUrgentRelief: assign({ urgentAmountFen: ({ event }) => data(event).amountFen as number }),
    payUrgentRelief: emit(({ event }) => ({ type: 'payment' as const, period: 'URGENT', amountFen: data(event).amountFen as number })),
    payApprovedAmount: emit(({ context }) => ({ type: 'payment' as const, period: 'ONCE', amountFen: context.decision!.amountFen! })),
  },
}).createMachine({
  id: 'ls',
  initial: 'acceptance',
  context: ({ input }) => ({
    ...intakeContext(),
    urgent: false,
    townshipLimitFen: input.townshipLimitFen,
    proposedAmountFen: null,
    urgentAmountFen: null,
    decision: null,
  }),
  states: {
    ...(intakeStates({
      prefix: 'ls',
      department: 'township-window',
      accept: 'handling',
      extraAcceptActions: { ACCEPT_URGENT: { target: 'urgentRelief', actions: assign({ urgent: true }) } },
    }) as any),
    // 先行救助: money first. "24 hours" is a local SLA, kept here as one working day.
    urgentRelief: {
      id: 'ls.urgentRelief',
      meta: taskState('急难型先行救助中', {
        title: '先行救助发放',
        department: 'township-civil-affairs',
        role: 'reviewer',
        actions: ['URGENT_RELIEF_PAID'],
        timeLimit: wd(1, 'local（24小时）'),
      }),
      on: { URGENT_RELIEF_PAID: { target: 'paperwork', actions: ['recordUrgentRelief', 'payUrgentRelief'] } },
    },
    paperwork: {
      id: 'ls.paperwork',
      meta: taskState(
        '先行救助已发放，待补齐手续',
        { title: '补齐申请手续', department: 'township-window', role: 'clerk', actions: ['PAPERWORK_COMPLETED'], timeLimit: wd(5, 'local') },
        { clockStopped: true },
      ),
      on: { PAPERWORK_COMPLETED: 'handling' },
    },
    handling: {
      id: 'ls.handling',
      initial: 'review',
      meta: stage('审核审批'),
      on: {
        WITHDRAW: [
          { guard: 'urgent', target: 'recovery', actions: 'recordReason' },
          { target: 'withdrawn', actions: 'recordReason' },
        ],
      },
      states: {
        review: {
          id: 'ls.review',
          meta: taskState('乡镇（街道）审核中', {
            title: '临时救助审核',
            department: 'township-civil-affairs',
            role: 'reviewer',
            actions: ['REVIEW_APPROVE', 'REVIEW_REFUSE'],
            timeLimit: wd(10, 'local'),
          }),
          on: {
            REVIEW_APPROVE: { target: 'publicNotice', actions: 'recordProposal' },
            REVIEW_REFUSE: [
              { guard: 'urgent', target: '#ls.recovery', actions: 'recordRefusal' },
              { target: '#ls.refused', actions: 'recordRefusal' },
            ],
          },
        },
        publicNotice: {
          id: 'ls.publicNotice',
          meta: taskState(
            '公示中',
            {
              title: '公示',
              department: 'township-civil-affairs',
              role: 'reviewer',
              actions: ['PUBLIC_NOTICE_ENDED', 'OBJECTION_RAISED'],
              timeLimit: cd(7, 'local'),
            },
            { clockStopped: true },
          ),
          on: {
            PUBLIC_NOTICE_ENDED: [{ guard: 'withinTownshipLimit', target: 'townshipApproval' }, { target: 'countyApproval' }],
            OBJECTION_RAISED: 'review',
          },
        },
        townshipApproval: approval('ls.townshipApproval', '乡镇（街道）审批中（小额委托）', 'township-civil-affairs'),
        countyApproval: approval('ls.countyApproval', '县级民政部门审批中', 'county-civil-affairs'),
        awaitingPayment: {
          id: 'ls.awaitingPayment',
          meta: taskState('已批准，待发放', {
            title: '临时救助金发放',
            department: 'county-civil-affairs',
            role: 'reviewer',
            actions: ['PAY_ONCE'],
            timeLimit: wd(5, 'local'),
          }),
          on: { PAY_ONCE: { target: '#ls.paid', actions: 'payApprovedAmount' } },
        },
      },
    },
    // The urgent relief was not confirmed: it is recovered (or the recovery waived, with reasons).
    recovery: {
      id: 'ls.recovery',
      meta: taskState('先行救助未获确认，追回中', {
        title: '追回先行救助金',
        department: 'county-civil-affairs',
        role: 'reviewer',
        actions: ['FUNDS_RECOVERED', 'RECOVERY_WAIVED'],
        timeLimit: cd(30, 'local'),
      }),
      on: { FUNDS_RECOVERED: 'recovered', RECOVERY_WAIVED: { target: 'recovered', actions: 'recordReason' } },
    },
    paid: { id: 'ls.paid', type: 'final', meta: stage('已发放') },
    confirmed: { id: 'ls.confirmed', type: 'final', meta: stage('先行救助已确认，办结') },
    refused: { id: 'ls.refused', type: 'final', meta: stage('不予救助') },
    recovered: { id: 'ls.recovered', type: 'final', meta: stage('先行救助已追回或核销，办结') },
  },
});

function approval(id: string, text: string, department: string) {
  return {
    id,
    meta: taskState(text, {
      title: '临时救助审批',
      department,
      role: 'reviewer' as const,
      actions: ['APPROVE', 'REFUSE', 'RETURN_FOR_REVIEW'],
      timeLimit: wd(10, 'local'),
    }),
    on: {
      APPROVE: [
        // Urgent relief already paid: approval confirms it; no second payment.
        { guard: 'urgent', target: '#ls.confirmed', actions: 'recordApproval' },
        { target: 'awaitingPayment', actions: 'recordApproval' },
      ],
      REFUSE: [
        { guard: 'urgent', target: '#ls.recovery', actions: 'recordRefusal' },
        { target: '#ls.refused', actions: 'recordRefusal' },
      ],
      RETURN_FOR_REVIEW: { target: 'review', actions: 'recordReturn' },
    },
  } as const;
}
