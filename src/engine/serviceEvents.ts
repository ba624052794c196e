import { z } from 'zod';
import { labelledEnum } from '../../workflows/shared/schemas.ts';

/**
 * 好差评 and 回访 (issue 9, docs/ratings.md): the events, their data schemas and labels. They are
 * not chart events — a rating, a 整改 and a 回访 follow the decision, often after the case is
 * finished — so they live beside the procedures, shared by all of them. Pure: no engine imports.
 */

/** Levels as monthlyReport.ts reads them (`CASE_RATED.payload.level`), best first. */
export const LEVEL_LABELS = {
  verySatisfied: '非常满意',
  satisfied: '满意',
  basicallySatisfied: '基本满意',
  dissatisfied: '不满意',
  veryDissatisfied: '非常不满意',
} as const;
export type Level = keyof typeof LEVEL_LABELS;
/** A rating at these levels is a 差评: it opens a 差评整改 task. */
export const BAD_LEVELS: Level[] = ['dissatisfied', 'veryDissatisfied'];

export const STAGE_LABELS = { acceptance: '受理环节', decision: '办理结果' } as const;
export type RatingStage = keyof typeof STAGE_LABELS;
export const CHANNEL_LABELS = { offline: '窗口办理（线下）', online: '网上办理（线上）' } as const;

/** Indicators per channel (GB/T 39734-2020, 评价指标), each rated on the same five levels. */
export const INDICATORS = {
  offline: { attitude: '服务态度', efficiency: '办理效率', guidance: '告知指引', environment: '窗口环境' },
  online: { usability: '操作便捷', guidance: '办事指南清晰', efficiency: '办理效率', response: '咨询响应' },
} as const;

const level = (title: string) => labelledEnum(title, LEVEL_LABELS, { message: '评价等级应为非常满意、满意、基本满意、不满意或非常不满意之一' });
const indicatorsOf = (channel: keyof typeof INDICATORS) =>
  z.strictObject(Object.fromEntries(Object.entries(INDICATORS[channel]).map(([k, title]) => [k, level(title)])) as Record<string, ReturnType<typeof level>>);

const common = {
  code: z.string().max(64).describe('查询码 (8 characters, case-insensitive), as on the receipt'),
  stage: labelledEnum('评价环节', STAGE_LABELS).describe('acceptance: the window service at intake; decision: the result, only once the case is decided'),
  level: level('总体评价'),
  comment: z.string().trim().max(500, '评价意见不超过500字').optional().meta({ title: '评价意见' }),
};

/** Body of POST /api/track/{reference}/ratings: one rating of one stage, by the channel it was served through. */
export const ratingRequestSchema = z
  .discriminatedUnion('channel', [
    z.strictObject({ ...common, channel: z.literal('offline').meta({ title: '办理渠道' }), indicators: indicatorsOf('offline').meta({ title: '分项评价' }) }),
    z.strictObject({ ...common, channel: z.literal('online').meta({ title: '办理渠道' }), indicators: indicatorsOf('online').meta({ title: '分项评价' }) }),
  ])
  .meta({ id: 'RatingRequest', description: 'A citizen rating (好差评) of one stage of a case' });
export type RatingRequest = z.output<typeof ratingRequestSchema>;

/** Event types of the service duties; the report reads the first three (monthlyReport.ts SERVICE_EVENTS). */
export const SERVICE_EVENT_LABELS = {
  CASE_RATED: '群众评价',
  RECTIFICATION_DONE: '差评整改完成',
  FOLLOW_UP_DONE: '回访完成',
  RATING_INVITED: '已发送评价邀请',
  // 发放 (docs/payments.md): the bank's results, the township's correction, incidents.
  PAYMENT_PAID: '发放到账',
  PAYMENT_FAILED: '发放失败',
  PAYMENT_CORRECTED: '已更正发放账户并重新发放',
  INCIDENT_RETRIED: '故障重试',
  INCIDENT_RESOLVED: '故障已处理',
} as const;

/** Outcomes of the service tasks, with their data: what a supervisor fills in on the case page. */
export const SERVICE_OUTCOMES = {
  RECTIFICATION_DONE: {
    label: SERVICE_EVENT_LABELS.RECTIFICATION_DONE,
    schema: z.strictObject({
      cause: z.string().trim().min(2, '请填写差评原因').max(500).meta({ title: '差评原因核实' }),
      measures: z.string().trim().min(2, '请填写整改措施').max(1000).meta({ title: '整改措施' }),
    }),
  },
  FOLLOW_UP_DONE: {
    label: SERVICE_EVENT_LABELS.FOLLOW_UP_DONE,
    schema: z.strictObject({
      reached: z.boolean().meta({ title: '是否联系到申请人' }),
      newLevel: level('回访评价').optional(),
      note: z.string().trim().min(2, '请填写回访情况').max(1000).meta({ title: '回访情况' }),
    }),
  },
  // The township window corrects the account of a failed payment and re-sends the SAME payment
  // (src/payments/correction.ts). The card is sealed on the case and only its last four digits
  // reach the event log.
  PAYMENT_CORRECTED: {
    label: SERVICE_EVENT_LABELS.PAYMENT_CORRECTED,
    schema: z.strictObject({
      bankCard: z.string().regex(/^\d{12,19}$/, '银行卡号应为12至19位数字').meta({ title: '更正后的银行卡号（用于发放）', description: '12至19位数字' }),
      note: z.string().trim().min(2, '请填写更正说明').max(500).meta({ title: '更正说明' }),
    }),
  },
} as const;
export type ServiceOutcome = keyof typeof SERVICE_OUTCOMES;
export const isServiceOutcome = (type: string): type is ServiceOutcome => Object.hasOwn(SERVICE_OUTCOMES, type);
/** Component id of a service outcome's data schema in the OpenAPI document. */
export const serviceSchemaId = (type: ServiceOutcome) => `Service_${type}`;
