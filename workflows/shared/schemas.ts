import { z } from 'zod';

// People read these messages: clerks and reviewers see field errors in Chinese.
z.config(z.locales.zhCN());

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643-1999 check character of an 18-character resident ID number. */
export function isValidResidentId(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * ID_WEIGHTS[i];
  return ID_CHECK[sum % 11] === id[17];
}

export const residentId = z
  .string()
  .transform((s) => s.trim().toUpperCase())
  .refine(isValidResidentId, { message: '身份证号码格式或校验位不正确' });

export const applicantSchema = z.strictObject({
  name: z.string().trim().min(1, '请填写姓名').max(50),
  idNumber: residentId,
  phone: z.string().regex(/^1\d{10}$/, '手机号码应为11位数字'),
  address: z.string().trim().min(2).max(200).optional(),
  bankCard: z
    .string()
    .regex(/^\d{12,19}$/, '银行卡号应为12至19位数字')
    .optional(),
});
export type Applicant = z.infer<typeof applicantSchema>;

export const period = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, '月份格式应为 YYYY-MM');
/** Money is integer fen (分): no floating-point yuan anywhere. */
export const amountFen = z.number().int('金额须为整数（分）').positive('金额须大于零').max(10_000_000_00);
export const reason = z.string().trim().min(2, '请说明理由').max(1000);
export const note = z.string().trim().max(1000).optional();

/** The codes of a procedure's materials checklist, as a zod enum. */
export function materialCodeSchema(materials: ReadonlyArray<{ code: string }>) {
  return z.enum(materials.map((m) => m.code) as [string, ...string[]]);
}

/** Which checklist items the applicant handed in (none is allowed: 补正 lists what is missing). */
export function submittedMaterialsSchema(materials: ReadonlyArray<{ code: string }>) {
  return z.array(materialCodeSchema(materials)).max(materials.length).default([]);
}
