import { describe, expect, it } from 'vitest';
import { chinaDate, checkCharacter, formatReference, hashTrackingCode, isWellFormedReference, newTrackingCode, trackingCodeMatches } from '../../src/engine/references.ts';
import { isValidResidentId } from '../../workflows/shared/schemas.ts';
import { maskDeep, maskName } from '../../src/engine/masking.ts';

describe('reference numbers', () => {
  it('are readable and carry a check character that catches a mistyped digit', () => {
    const ref = formatReference('DB', '330106001', '261123', 42);
    expect(ref).toMatch(/^DB-330106001-261123-0042-[0-9X]$/);
    expect(isWellFormedReference(ref)).toBe(true);
    for (let i = 0; i < ref.length - 2; i++) {
      if (!/\d/.test(ref[i])) continue;
      const typo = ref.slice(0, i) + String((Number(ref[i]) + 1) % 10) + ref.slice(i + 1);
      expect(isWellFormedReference(typo), typo).toBe(false);
    }
  });

  it('uses the China Standard Time date, not UTC', () => {
    expect(chinaDate(new Date('2026-02-09T17:30:00Z')).yyyymmdd).toBe('20260210');
    expect(chinaDate(new Date('2026-02-09T15:30:00Z')).yymmdd).toBe('260209');
  });

  it('computes the MOD 11-2 check like a resident ID', () => {
    // The resident-ID check character of 11010519491231002 is X (GB 11643).
    expect(checkCharacter('11010519491231002')).toBe('X');
    expect(isValidResidentId('11010519491231002X')).toBe(true);
    expect(isValidResidentId('110105194912310021')).toBe(false);
  });
});

describe('tracking codes', () => {
  it('are random, unambiguous, and only verifiable against their hash', () => {
    const codes = new Set(Array.from({ length: 200 }, newTrackingCode));
    expect(codes.size).toBe(200);
    for (const c of codes) expect(c).toMatch(/^[A-HJKMNP-Z2-9]{8}$/);
    const [code] = codes;
    const hash = hashTrackingCode('DB-1', code);
    expect(hash).not.toContain(code);
    expect(trackingCodeMatches('DB-1', code.toLowerCase(), hash)).toBe(true);
    expect(trackingCodeMatches('DB-2', code, hash)).toBe(false);
  });
});

describe('masking', () => {
  it('hides personal data while keeping it recognisable to its owner', () => {
    expect(maskName('张三丰')).toBe('张*丰');
    expect(maskName('李四')).toBe('李*');
    expect(maskDeep({ name: '张三', idNumber: '11010519491231002X', phone: '13800138000', bankCard: '6222020200112233445', partner: { idNumber: '11010519491231002X' } })).toEqual({
      name: '张三',
      idNumber: '110***********002X',
      phone: '138****8000',
      bankCard: '***************3445',
      partner: { idNumber: '110***********002X' },
    });
  });
});
