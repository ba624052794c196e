import { describe, expect, it } from 'vitest';
import { csvField, renderBatchFile, verifyBatchFile, yuan } from '../../src/payments/batchFile.ts';
import { parseCsvLine } from '../../src/payments/reconciliation.ts';

// The 一卡通 batch file's arithmetic and quoting (docs/payments.md), without a database.
describe('batch file format', () => {
  it('writes 元 with two decimals by integer arithmetic', () => {
    expect([0, 5, 100, 60050, 123456789].map(yuan)).toEqual(['0.00', '0.05', '1.00', '600.50', '1234567.89']);
    expect(yuan(-5)).toBe('-0.05');
  });

  it('quotes what needs quoting, formulas included, and reads it back', () => {
    expect(csvField('张三')).toBe('张三');
    expect(csvField('a,"b"')).toBe('"a,""b"""');
    expect(csvField('=1+1')).toBe('"=1+1"');
    expect(parseCsvLine('1-1,"a,""b""", 成功 ')).toEqual(['1-1', 'a,"b"', '成功']);
  });

  it('an empty batch still has header, totals and a valid checksum', () => {
    const f = renderBatchFile({ regionCode: '330106', month: '2026-04', batchId: '7', generatedAt: new Date('2026-04-01T00:00:00Z') }, []);
    expect(f.text.split('\n').slice(0, 2)).toEqual(['H,YKT-SHFF,1.0,330106,202604,7,2026-04-01T00:00:00.000Z', 'T,0,0.00']);
    expect(verifyBatchFile(f.text)).toBe(true);
    expect(verifyBatchFile(f.text.replace('T,0', 'T,1'))).toBe(false);
  });
});
