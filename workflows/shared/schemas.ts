import { z } from 'zod';

// People read these messages: clerks and reviewers see field errors in Chinese. A field left out
// would read "无效输入：期望 数字，实际接收 undefined" in zod's zh-CN: say that it is required.
z.config({
  ...z.locales.zhCN(),
  customError: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? '此项为必填项' : undefined),
});

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** The hint of every amount: the API speaks integer fen, people read and type 元. */
export const FEN = '单位：分（界面以元输入和显示）';

/** GB 11643-1999 check character of an 18-character resident ID number. */
export function isValidResidentId(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * ID_WEIGHTS[i];
  return ID_CHECK[sum % 11] === id[17];
}

/*
 * Every field people fill in carries a zh-CN `title` (and a `description` where a hint helps);
 * every enum carries its values' labels as `x-enum-descriptions`, in `enum` order. They reach the
 * OpenAPI document unchanged, so a client builds and labels a form from the document alone
 * (docs/api.md, "Labels for forms"; test/contract/titles.test.ts fails on a field without one).
 */

/** Metadata key of an enum's value labels (parallel to `enum`; read by openapi-generator, openapi-typescript). */
export const ENUM_LABELS = 'x-enum-descriptions';

/**
 * A string enum whose values have Chinese labels: `{ home: '分散供养', … }` → `enum: ['home', …]`
 * with `x-enum-descriptions: ['分散供养', …]`. Validation, its messages and the inferred type are
 * those of `z.enum`.
 */
export function labelledEnum<const T extends Record<string, string>>(title: string, labels: T, params?: Parameters<typeof z.enum>[1]) {
  const values = Object.keys(labels) as [keyof T & string, ...Array<keyof T & string>];
  return z.enum(values, params).meta({ title, [ENUM_LABELS]: values.map((v) => labels[v]) });
}

export const residentId = z
  .string()
  .transform((s) => s.trim().toUpperCase())
  .refine(isValidResidentId, { message: '身份证号码格式或校验位不正确' })
  .meta({ title: '身份证号码', description: '18位公民身份号码，末位校验码可为X' });

export const applicantSchema = z.strictObject({
  name: z.string().trim().min(1, '请填写姓名').max(50).meta({ title: '姓名' }),
  idNumber: residentId.meta({ title: '身份证号码' }),
  phone: z.string().regex(/^1\d{10}$/, '手机号码应为11位数字').meta({ title: '手机号码', description: '11位手机号码' }),
  address: z.string().trim().min(2).max(200).optional().meta({ title: '住址' }),
  bankCard: z
    .string()
    .regex(/^\d{12,19}$/, '银行卡号应为12至19位数字')
    .optional()
    .meta({ title: '银行卡号（用于发放）', description: '12至19位数字；发放救助金、补贴时使用' }),
});
export type Applicant = z.infer<typeof applicantSchema>;

export const period = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, '月份格式应为 YYYY-MM')
  .meta({ title: '月份', description: '格式 YYYY-MM，如 2026-04' });
/** Money is integer fen (分): no floating-point yuan anywhere. */
export const amountFen = z
  .number()
  .int('金额须为整数（分）')
  .positive('金额须大于零')
  .max(10_000_000_00)
  .meta({ title: '金额', description: FEN });
export const reason = z.string().trim().min(2, '请说明理由').max(1000).meta({ title: '理由' });
export const note = z.string().trim().max(1000).optional().meta({ title: '备注' });

/** The codes of a procedure's materials checklist, as a zod enum labelled with the materials' names. */
export function materialCodeSchema(materials: ReadonlyArray<{ code: string; name: string }>) {
  return z.enum(materials.map((m) => m.code) as [string, ...string[]]).meta({ title: '材料', [ENUM_LABELS]: materials.map((m) => m.name) });
}

/** Which checklist items the applicant handed in (none is allowed: 补正 lists what is missing). */
export function submittedMaterialsSchema(materials: ReadonlyArray<{ code: string; name: string }>) {
  return z
    .array(materialCodeSchema(materials))
    .max(materials.length)
    .default([])
    .meta({ title: '已收取的申请材料', description: '申请人已交的材料（材料代码）；未列出的必交材料在受理回执中列为缺少' });
}
