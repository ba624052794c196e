/** Masks for personal data in responses (暂行办法 art. 61: assistance data is confidential). */
export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}

export function maskIdNumber(id: string): string {
  return id.length < 8 ? '*'.repeat(id.length) : `${id.slice(0, 3)}${'*'.repeat(id.length - 7)}${id.slice(-4)}`;
}

export function maskPhone(phone: string): string {
  return phone.length < 7 ? '*'.repeat(phone.length) : `${phone.slice(0, 3)}****${phone.slice(-4)}`;
}

export function maskBankCard(card: string): string {
  return `${'*'.repeat(Math.max(0, card.length - 4))}${card.slice(-4)}`;
}


/** Household incomes, by key name at any depth (`monthlyHouseholdIncomeFen`, `verifiedMonthlyIncomeFen`). */
const INCOME_KEY = /income/i;

/** A copy without the household's incomes, for those whose work does not need them (authorization.ts handlesPersonalData). */
export function withoutIncomes<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutIncomes) as T;
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (!INCOME_KEY.test(k)) out[k] = withoutIncomes(v);
  return out as T;
}

const MASKS: Record<string, (v: string) => string> = { idNumber: maskIdNumber, phone: maskPhone, bankCard: maskBankCard };

/** A copy with ID numbers, phones and bank cards masked at any depth (e.g. a deceased's or partner's ID). */
export function maskDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map(maskDeep) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = typeof v === 'string' && MASKS[k] ? MASKS[k](v) : maskDeep(v);
  return out as T;
}
