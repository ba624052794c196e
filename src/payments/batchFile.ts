import { createHash } from 'node:crypto';

/**
 * The 一卡通 社会化发放 batch file (docs/payments.md has the format): UTF-8 CSV, LF line ends,
 * one file per region and month —
 *   H,YKT-SHFF,1.0,<region>,<YYYYMM>,<batch id>,<generated at, ISO 8601 UTC>
 *   D,<seq>,<指令编号>,<付款编号>,<受理编号>,<姓名>,<银行卡号>,<金额(元)>,<所属期>,<摘要>
 *   T,<lines>,<total 元>
 *   S,SHA-256,<hex digest of every byte above this line>
 * Pure: the caller reads and writes files.
 */

export interface BatchLine {
  instructionId: string;
  paymentId: string;
  reference: string;
  name: string;
  bankCard: string;
  amountFen: number;
  period: string;
  summary: string;
}

/** 12345 fen → "123.45": integer arithmetic, never a float. */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** RFC 4180 quoting where a field needs it; a field never starts a formula (=, +, -, @) unquoted. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) || /^[=+\-@]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

export const batchFileName = (regionCode: string, month: string) => `YKT-SHFF-${regionCode}-${month.replace('-', '')}.csv`;

export function renderBatchFile(h: { regionCode: string; month: string; batchId: string; generatedAt: Date }, lines: BatchLine[]): { text: string; sha256: string; totalFen: number } {
  const rows = [['H', 'YKT-SHFF', '1.0', h.regionCode, h.month.replace('-', ''), h.batchId, h.generatedAt.toISOString()]];
  let total = 0;
  lines.forEach((l, i) => {
    total += l.amountFen;
    rows.push(['D', String(i + 1), l.instructionId, l.paymentId, l.reference, l.name, l.bankCard, yuan(l.amountFen), l.period, l.summary]);
  });
  rows.push(['T', String(lines.length), yuan(total)]);
  const body = rows.map((r) => r.map(csvField).join(',') + '\n').join('');
  const sha256 = createHash('sha256').update(body, 'utf8').digest('hex');
  return { text: `${body}S,SHA-256,${sha256}\n`, sha256, totalFen: total };
}

/** Checks a file's checksum line against its body (tests, and a bank's own check). */
export function verifyBatchFile(text: string): boolean {
  const at = text.lastIndexOf('S,SHA-256,');
  if (at < 0) return false;
  const digest = text.slice(at + 'S,SHA-256,'.length).trim();
  return createHash('sha256').update(text.slice(0, at), 'utf8').digest('hex') === digest;
}
