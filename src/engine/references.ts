import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

const CHARSET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const CHECK_CHARS = '0123456789X';

/** ISO 7064 MOD 11-2 over the reference's characters (letters valued 10–35), as in resident IDs. */
export function checkCharacter(body: string): string {
  let sum = 0;
  for (const ch of body) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) throw new Error(`reference body has an invalid character: ${ch}`);
    sum = ((sum + v) * 2) % 11;
  }
  return CHECK_CHARS[(12 - sum) % 11];
}

/** China Standard Time has no DST: the local date is UTC+8. */
export function chinaDate(at: Date): { yymmdd: string; yyyymmdd: string } {
  const d = new Date(at.getTime() + 8 * 3600_000);
  const yyyymmdd = d.toISOString().slice(0, 10).replaceAll('-', '');
  return { yyyymmdd, yymmdd: yyyymmdd.slice(2) };
}

/**
 * 受理编号: procedure code, region code, date, sequence and a check character,
 * e.g. DB-330106001-261123-0007-5. Short enough to read over the phone; the check
 * character catches a mistyped digit before any lookup.
 */
export function formatReference(procedureCode: string, regionCode: string, yymmdd: string, seq: number): string {
  const seqText = String(seq).padStart(4, '0');
  const body = `${procedureCode}${regionCode}${yymmdd}${seqText}`;
  return `${procedureCode}-${regionCode}-${yymmdd}-${seqText}-${checkCharacter(body)}`;
}

export function isWellFormedReference(reference: string): boolean {
  const m = /^([A-Z]{2,8})-(\d{6,12})-(\d{6})-(\d{4,})-([0-9X])$/.exec(reference);
  if (!m) return false;
  return checkCharacter(`${m[1]}${m[2]}${m[3]}${m[4]}`) === m[5];
}

// No 0/O, 1/I/L: the code is read off a paper slip.
const TRACKING_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** The citizen's tracking code: 8 random characters (≈ 40 bits), separate from the reference. */
export function newTrackingCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += TRACKING_ALPHABET[randomInt(TRACKING_ALPHABET.length)];
  return code;
}

/** Only a hash is stored, salted with the reference. */
export function hashTrackingCode(reference: string, code: string): string {
  return createHash('sha256').update(`${reference}:${code.trim().toUpperCase()}`).digest('hex');
}

export function trackingCodeMatches(reference: string, code: string, storedHash: string): boolean {
  const a = Buffer.from(hashTrackingCode(reference, code), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
