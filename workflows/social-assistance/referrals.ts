import { z } from 'zod';
import { or, stateIn } from 'xstate';
import { stage, taskState, wd } from '../shared/meta.ts';
import { amountFen, labelledEnum, note, reason } from '../shared/schemas.ts';
import type { EventSpec, TimeLimit } from '../shared/types.ts';

/**
 * 转办 to the specialised reliefs (社会救助暂行办法 arts. 27–45, 60): a 低保 or 特困 application may
 * be referred, at acceptance or after approval, to 医疗救助 (医保局), 教育救助 (教育局), 住房救助
 * (住建局) and 就业救助 (人社局). Each is one parallel region of `handling` with its own task, time
 * limit and outcome (docs/referrals.md).
 */
export const RELIEFS = {
  medical: {
    title: '医疗救助',
    event: 'MEDICAL_ASSISTANCE',
    department: 'medical-insurance',
    stage: '医疗救助审核中（医保部门）',
    // 暂行办法 art. 30: 低保 and 特困 members' medical assistance is handled directly by the county 医保 department; no day count.
    timeLimit: wd(10, 'local（社会救助暂行办法第30条：由县级医疗保障部门直接办理，未规定期限）'),
    measures: {
      insuranceSubsidy: '资助参加基本医疗保险（个人缴费补贴）',
      expenseSubsidy: '医疗费用自负部分补助',
    },
  },
  education: {
    title: '教育救助',
    event: 'EDUCATION_ASSISTANCE',
    department: 'education',
    stage: '教育救助审核中（教育部门）',
    timeLimit: wd(10, 'local（社会救助暂行办法第36条：向就读学校提出，按规定程序审核确认，未规定期限）'),
    measures: {
      feeWaiver: '减免相关费用',
      grant: '发放助学金',
      livingAllowance: '给予生活补助',
      workStudy: '安排勤工助学',
    },
  },
  housing: {
    title: '住房救助',
    event: 'HOUSING_ASSISTANCE',
    department: 'housing',
    stage: '住房救助审核中（住房保障部门）',
    timeLimit: wd(20, 'local（社会救助暂行办法第40条：民政审核收入财产、住房保障部门审核住房状况并公示，未规定期限）'),
    measures: {
      publicRental: '配租公共租赁住房',
      rentSubsidy: '发放住房租赁补贴',
      ruralRenovation: '农村危房改造',
    },
  },
  employment: {
    title: '就业救助',
    event: 'EMPLOYMENT_ASSISTANCE',
    department: 'human-resources',
    stage: '就业救助办理中（公共就业服务机构）',
    timeLimit: wd(5, 'local（社会救助暂行办法第44条：公共就业服务机构核实后登记，未规定期限）'),
    measures: {
      jobPlacement: '就业岗位信息、职业介绍和指导',
      loanInterest: '贷款贴息',
      insuranceSubsidy: '社会保险补贴',
      jobSubsidy: '岗位补贴',
      trainingSubsidy: '培训补贴',
      feeWaiver: '费用减免',
      publicWelfareJob: '公益性岗位安置',
    },
  },
} as const satisfies Record<string, { title: string; event: string; department: string; stage: string; timeLimit: TimeLimit; measures: Record<string, string> }>;

export type ReliefKey = keyof typeof RELIEFS;
export const RELIEF_KEYS = Object.keys(RELIEFS) as [ReliefKey, ...ReliefKey[]];
export const REFERRAL_DEPARTMENTS = [...new Set(Object.values(RELIEFS).map((r) => r.department))];

/** What a specialised-relief department decided. */
export type ReferralOutcome = { granted: true; measures: string[]; amountFen?: number; note?: string } | { granted: false; reason: string };

/** The list of reliefs to refer to, as people pick them. */
export const reliefList = (title: string) =>
  z
    .array(labelledEnum('专项救助', Object.fromEntries(RELIEF_KEYS.map((k) => [k, RELIEFS[k].title])) as Record<ReliefKey, string>))
    .max(RELIEF_KEYS.length)
    .refine((list) => new Set(list).size === list.length, '同一专项救助只能选择一次')
    .meta({ title, description: '医疗救助（医保部门）、教育救助（教育部门）、住房救助（住房保障部门）、就业救助（人社部门），可多选' });

/**
 * One relief's region: routing → pending → granted | refused, or skipped. `routing` waits rather
 * than ends: a relief not chosen at acceptance can still be referred once the application is
 * approved (REFER_TO_SPECIALISED_RELIEF adds it to `referrals`); when the assistance itself ends
 * (stopped or refused) without one, the region ends as skipped so the case can close.
 */
export function referralRegion(prefix: string, key: ReliefKey) {
  const r = RELIEFS[key];
  const ended = or([stateIn(`#${prefix}.handling.assistance.stopped`), stateIn(`#${prefix}.handling.assistance.refused`)]);
  return {
    meta: stage(`${r.title}（转办）`),
    initial: 'routing',
    states: {
      routing: {
        id: `${prefix}.${key}Assistance.routing`,
        meta: stage(`未转办${r.title}`, { hiddenFromCitizen: true }),
        always: [
          { guard: { type: 'referred', params: { relief: key } }, target: 'pending' },
          { guard: ended, target: 'skipped' },
        ],
      },
      pending: {
        id: `${prefix}.${key}Assistance`,
        meta: taskState(r.stage, {
          title: `${r.title}审核（转办）`,
          department: r.department,
          role: 'reviewer',
          actions: [`${r.event}_GRANTED`, `${r.event}_REFUSED`],
          timeLimit: r.timeLimit,
        }),
        on: {
          [`${r.event}_GRANTED`]: { target: 'granted', actions: { type: 'recordReferralOutcome', params: { relief: key, granted: true } } },
          [`${r.event}_REFUSED`]: { target: 'refused', actions: { type: 'recordReferralOutcome', params: { relief: key, granted: false } } },
        },
      },
      granted: { type: 'final', meta: stage(`${r.title}已批准`) },
      refused: { type: 'final', meta: stage(`${r.title}未批准`) },
      skipped: { type: 'final', meta: stage(`未转办${r.title}`, { hiddenFromCitizen: true }) },
    },
  } as const;
}

/** The decision events of every relief's department. */
export function referralEvents(): Record<string, EventSpec> {
  return Object.assign(
    {},
    ...RELIEF_KEYS.map((key) => {
      const r = RELIEFS[key];
      const measures = Object.keys(r.measures);
      return {
        [`${r.event}_GRANTED`]: {
          label: `${r.title}批准`,
          schema: z.strictObject({
            measures: z
              .array(labelledEnum('救助方式', r.measures as Record<string, string>))
              .min(1, '请选择至少一种救助方式')
              .max(measures.length)
              .meta({ title: '救助方式', description: `${r.title}采取的方式，可多选` }),
            amountFen: amountFen.optional().meta({ title: '救助金额', description: '有金额的填写；单位：分（界面以元输入和显示）' }),
            note,
          }),
          examples: [{ measures: [measures[0]] }],
        },
        [`${r.event}_REFUSED`]: {
          label: `${r.title}不予批准`,
          schema: z.strictObject({ reason: reason.meta({ title: '不予批准理由' }) }),
          examples: [{ reason: `不符合${r.title}条件` }],
        },
      } satisfies Record<string, EventSpec>;
    }),
  );
}
