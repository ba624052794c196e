import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import * as payments from '../db/payments.ts';
import * as reconciliations from '../db/paymentReconciliations.ts';
import type { Actor } from '../engine/authorization.ts';
import type { Engine } from '../engine/engine.ts';
import { DomainError } from '../engine/errors.ts';
import { recordFailed, recordPaid } from './correction.ts';

/**
 * The bank's result file (回盘文件, docs/payments.md): UTF-8 CSV, one line per instruction —
 *   指令编号,结果,银行流水号,失败原因
 *   17-1,成功,B20260401001,
 *   18-1,失败,,账户已销户
 * (the header line is optional; 结果 成功|失败, or paid|failed). Importing marks each payment paid
 * or failed with a hash-chained PAYMENT_PAID / PAYMENT_FAILED case event, a failure opening the
 * 发放失败更正 task, all in one transaction with the import's record; the same file imported
 * again (by SHA-256, per region) is a no-op that answers the first import's result.
 */

export type LineOutcome = 'paid' | 'failed' | 'unchanged' | 'error';
export interface LineResult {
  line: number;
  instructionId: string;
  outcome: LineOutcome;
  message: string;
}
export interface ReconciliationResult {
  importId: string;
  duplicate: boolean;
  fileName: string | null;
  sha256: string;
  importedAt: string;
  counts: Record<LineOutcome, number>;
  lines: LineResult[];
}

export const MAX_LINES = 20_000;

/** RFC 4180 fields of one line (quotes, doubled quotes); the file has no multi-line fields. */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') out.push(field), (field = '');
    else field += ch;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

const RESULTS: Record<string, 'paid' | 'failed'> = { 成功: 'paid', paid: 'paid', s: 'paid', 失败: 'failed', failed: 'failed', f: 'failed' };

const STATUS_TEXT: Record<payments.PaymentStatus, string> = { requested: '待发出', sent: '已发出', paid: '已到账', failed: '发放失败', incident: '发放故障', abandoned: '已放弃' };

export async function importResults(engine: Engine, trx: Knex.Transaction, actor: Actor, input: { fileName?: string; content: string }): Promise<ReconciliationResult> {
  const text = input.content.replace(/^\uFEFF/, '');
  const sha256 = createHash('sha256').update(text, 'utf8').digest('hex');
  const prior = await reconciliations.findImport(trx, actor.regionCode, sha256);
  if (prior) return { ...(prior.result as ReconciliationResult), duplicate: true };

  const raw = text.split(/\r?\n/);
  if (raw.length > MAX_LINES + 1) throw new DomainError('invalid', 'VALIDATION_FAILED', `回盘文件不超过${MAX_LINES}行`, [{ path: 'content', message: `回盘文件不超过${MAX_LINES}行` }]);
  const lines: LineResult[] = [];
  const parsed: Array<{ line: number; instructionId: string; result: 'paid' | 'failed'; bankReference: string | null; reason: string; paymentId: string; round: number }> = [];
  const seen = new Map<string, number>();
  raw.forEach((l, i) => {
    const line = i + 1;
    if (!l.trim()) return;
    const [instructionId = '', result = '', bankReference = '', reason = ''] = parseCsvLine(l);
    if (line === 1 && instructionId === '指令编号') return;
    const error = (message: string) => lines.push({ line, instructionId, outcome: 'error', message });
    const m = /^([1-9]\d{0,17})-([1-9]\d{0,4})$/.exec(instructionId);
    if (!m) return error('指令编号格式应为“付款编号-轮次”，如 17-1');
    const outcome = RESULTS[result.toLowerCase()];
    if (!outcome) return error('结果应为“成功”或“失败”');
    if (outcome === 'failed' && reason.length < 2) return error('发放失败的记录须填写失败原因');
    if (seen.has(instructionId)) return error(`与第${seen.get(instructionId)}行重复，未处理`);
    seen.set(instructionId, line);
    parsed.push({ line, instructionId, result: outcome, bankReference: bankReference ? bankReference.slice(0, 128) : null, reason: reason.slice(0, 200), paymentId: m[1], round: Number(m[2]) });
  });
  if (!parsed.length && !lines.length) throw new DomainError('invalid', 'VALIDATION_FAILED', '回盘文件没有任何记录', [{ path: 'content', message: '回盘文件没有任何记录' }]);

  // Cases are locked in one order (by case id), so two imports touching the same cases cannot deadlock.
  const found = new Map<string, payments.DeliveryRow>();
  for (const p of parsed) {
    const row = await payments.getPayment(trx, p.paymentId);
    if (row) found.set(p.paymentId, row);
  }
  const regionOf = new Map<string, string>();
  if (found.size) {
    const rows = await trx('cases').whereIn('id', [...new Set([...found.values()].map((p) => p.case_id))]).select('id', 'region_code');
    for (const r of rows) regionOf.set(r.id, r.region_code);
  }
  const order = [...parsed].sort((a, b) => (found.get(a.paymentId)?.case_id ?? '').localeCompare(found.get(b.paymentId)?.case_id ?? '') || a.line - b.line);
  const source = `回盘文件 ${input.fileName ?? sha256.slice(0, 12)}`;
  for (const p of order) {
    const push = (outcome: LineOutcome, message: string) => lines.push({ line: p.line, instructionId: p.instructionId, outcome, message });
    const seenRow = found.get(p.paymentId);
    // Another region's payment does not exist for this admin.
    if (!seenRow || !(regionOf.get(seenRow.case_id) ?? '').startsWith(actor.regionCode) || p.round > seenRow.round) {
      push('error', '未找到该发放指令');
      continue;
    }
    const current = (await payments.getPayment(trx, p.paymentId))!;
    if (p.round < current.round) {
      push('error', `该笔发放已更正并以指令 ${payments.instructionId(current)} 重新发放，旧指令的结果未处理`);
      continue;
    }
    if (current.status === p.result) {
      push('unchanged', `已记录为${STATUS_TEXT[current.status]}，无需处理`);
      continue;
    }
    if (current.status !== 'sent') {
      push('error', current.status === 'paid' || current.status === 'failed' ? `该指令已记录为${STATUS_TEXT[current.status]}，与回盘结果矛盾，请核实` : `该指令${STATUS_TEXT[current.status]}，尚未发出，不能对账`);
      continue;
    }
    if (p.result === 'paid') {
      await recordPaid(engine, trx, current, { bankReference: p.bankReference ?? current.bank_reference, actor, source });
      push('paid', '已到账');
    } else {
      await recordFailed(engine, trx, current, { reason: p.reason, actor, source });
      push('failed', `发放失败：${p.reason}；已生成更正任务`);
    }
  }
  lines.sort((a, b) => a.line - b.line);
  const counts = { paid: 0, failed: 0, unchanged: 0, error: 0 } as Record<LineOutcome, number>;
  for (const l of lines) counts[l.outcome]++;
  const importedAt = engine.clock();
  const result: ReconciliationResult = { importId: '', duplicate: false, fileName: input.fileName ?? null, sha256, importedAt: importedAt.toISOString(), counts, lines };
  const id = await reconciliations.insertImport(trx, { sha256, region_code: actor.regionCode, file_name: input.fileName ?? null, imported_by: actor.id!, imported_at: importedAt, result });
  if (!id) throw new DomainError('conflict', 'RECONCILIATION_IN_PROGRESS', '同一回盘文件正在导入，请稍后刷新查看结果');
  result.importId = id;
  await trx('payment_reconciliations').where({ id }).update({ result: JSON.stringify(result) });
  return result;
}
