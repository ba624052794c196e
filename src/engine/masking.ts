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
export const withoutIncomes = <T>(value: T): T => rewriteDeep(value, (k, v) => (INCOME_KEY.test(k) ? OMIT : v));

const MASKS: Record<string, (v: string) => string> = { idNumber: maskIdNumber, phone: maskPhone, bankCard: maskBankCard };

/** A copy with ID numbers, phones and bank cards masked at any depth (e.g. a deceased's or partner's ID). */
export const maskDeep = <T>(value: T): T => rewriteDeep(value, (k, v) => (typeof v === 'string' && MASKS[k] ? MASKS[k](v) : v));

const OMIT = Symbol('omit');

/**
 * A copy of JSON-like data in which `entry` decides each object entry at any depth: a new value
 * (then not walked further), the value itself (walked into), or OMIT.
 */
function rewriteDeep<T>(value: T, entry: (key: string, value: unknown) => unknown): T {
  if (Array.isArray(value)) return value.map((v) => rewriteDeep(v, entry)) as T;
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const next = entry(k, v);
    if (next !== OMIT) out[k] = next === v ? rewriteDeep(v, entry) : next;
  }
  return out as T;
}
