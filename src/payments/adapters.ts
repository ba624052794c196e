import fs from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import * as batches from '../db/paymentBatches.ts';
import { maskBankCard } from '../engine/masking.ts';
import type { PersonalDataCipher } from '../engine/personalData.ts';
import { redactText } from '../http/logging.ts';
import { batchFileName, renderBatchFile, yuan } from './batchFile.ts';
import { postIdempotent, type GatewayOptions } from '../gatewayPost.ts';

/** One round of one payment, as the bank is told it. The instruction id is the idempotency key. */
export interface PaymentInstruction {
  instructionId: string;
  paymentId: string;
  round: number;
  caseId: string;
  reference: string;
  regionCode: string;
  period: string;
  amountFen: number;
  summary: string;
  name: string;
  /** In memory only: never logged, never stored unsealed. */
  bankCard: string;
}

export type DeliveryResult =
  | { ok: true; batchId: string | null; bankReference: string | null }
  /** retryable false: sending again cannot help (the gateway refused it, 4xx) → an incident at once. */
  | { ok: false; retryable: boolean; error: string };

/** A delivery channel. Errors it throws count as retryable failures. */
export interface PaymentAdapter {
  readonly name: 'batch-file' | 'http-gateway';
  deliver(i: PaymentInstruction): Promise<DeliveryResult>;
  /**
   * Called by the deliverer after each run: an adapter that buffers (batch files) writes out.
   * `drained`: the run found less than a full batch, so nothing more is waiting right now.
   */
  flush?(o: { drained: boolean }): Promise<void>;
}

/** Removes a card number from text an adapter or its peer produced, before it is kept or logged. */
const scrub = (text: string, card: string) => redactText(card ? text.replaceAll(card, maskBankCard(card)) : text);

/** `YYYY-MM` of an instant in China time (UTC+8): the month a batch file is for. */
export const chinaMonth = (at: Date) => new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 7);

/**
 * The embedded default: 一卡通 社会化发放 batch files, one per region and month, in `dir`. The
 * database holds the lines (an instruction once, by its id): an instruction delivered twice is
 * one line in one file. The file is rendered from the lines under the batch's row lock and
 * replaced atomically (write, fsync, rename) in `flush`, not per line — rendering reads every line
 * of the month, so per-line rendering would cost O(n²) and serialise all deliveries of a region on
 * one lock. A deliverer dying between recording a line and rendering leaves a stale batch that
 * the next flush anywhere finds (`staleBatchIds`) and renders.
 */
export class BatchFileAdapter implements PaymentAdapter {
  readonly name = 'batch-file';
  /** Batches this process added lines to since its last flush. */
  private dirty = new Set<string>();
  private lastFlush = 0;
  private lastSweep = -Infinity; // a new process sweeps at its first idle run
  constructor(private readonly o: { db: Knex; cipher: PersonalDataCipher; dir: string; clock: () => Date; flushEveryMs?: number }) {}

  async deliver(i: PaymentInstruction): Promise<DeliveryResult> {
    const { db, cipher, clock } = this.o;
    const now = clock();
    const month = chinaMonth(now);
    try {
      const batchId = await db.transaction(async (trx) => {
        const batch = await batches.batchFor(trx, i.regionCode, month, batchFileName(i.regionCode, month), now);
        const heldBy = await batches.addLine(trx, {
          batch_id: batch.id,
          payment_id: i.paymentId,
          round: i.round,
          instruction_id: i.instructionId,
          amount_fen: i.amountFen,
          period: i.period,
          payee_name: i.name,
          bank_card: cipher.encrypt(i.bankCard),
          reference: i.reference,
          summary: i.summary,
          created_at: now,
        });
        return heldBy; // an earlier month's batch when it was delivered before
      });
      this.dirty.add(batchId);
      return { ok: true, batchId, bankReference: null };
    } catch (err) {
      return { ok: false, retryable: true, error: `batch file: ${scrub(String((err as Error).message), i.bankCard)}` };
    }
  }

  /**
   * Renders the batches this process touched once the queue is drained (or every
   * `flushEveryMs` under a standing backlog), and now and then any stale batch a dead process left.
   */
  async flush({ drained }: { drained: boolean }): Promise<void> {
    const every = this.o.flushEveryMs ?? 30_000;
    const t = performance.now();
    const sweep = drained && t - this.lastSweep >= every;
    if (!sweep && !(this.dirty.size && (drained || t - this.lastFlush >= every))) return;
    const ids = new Set(this.dirty);
    if (sweep) for (const id of await batches.staleBatchIds(this.o.db)) ids.add(id);
    for (const id of ids) {
      await this.o.db.transaction(async (trx) => this.write(trx, await batches.lockBatch(trx, id), this.o.clock()));
      this.dirty.delete(id);
    }
    this.lastFlush = t;
    if (sweep) this.lastSweep = t;
  }

  /** Renders and atomically replaces the batch's file from its lines. */
  async write(trx: Knex.Transaction, batch: batches.BatchRow, now: Date): Promise<string> {
    const lines = await batches.linesOf(trx, batch.id);
    const file = renderBatchFile(
      { regionCode: batch.region_code, month: batch.month, batchId: batch.id, generatedAt: now },
      lines.map((l) => ({ instructionId: l.instruction_id, paymentId: l.payment_id, reference: l.reference, name: l.payee_name, bankCard: this.o.cipher.decrypt(l.bank_card), amountFen: l.amount_fen, period: l.period, summary: l.summary })),
    );
    await fs.mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    const target = path.join(this.o.dir, batch.file_name);
    const tmp = `${target}.${process.pid}.tmp`;
    const handle = await fs.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(file.text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, target);
    await batches.recordWritten(trx, batch.id, { lineCount: lines.length, totalFen: file.totalFen, sha256: file.sha256, at: now, lastLineId: lines.at(-1)?.id ?? null });
    return target;
  }
}

export type HttpPaymentGatewayOptions = GatewayOptions;

/**
 * A bank / finance gateway (财政 一卡通 平台): one POST per instruction — JSON
 * `{ instructionId, paymentId, round, reference, regionCode, period, amountFen, amount, summary, name, bankCard }`,
 * `Authorization: Bearer <token>`, `Idempotency-Key: <instructionId>` — answered 2xx
 * `{ reference }` when accepted. The gateway must dedupe on the key: a deliverer that dies between
 * the answer and recording it sends again. 409 (the key was accepted already) counts as accepted;
 * 408, 425, 429, 5xx, timeouts and network errors are retried; other 4xx are final (an incident).
 * Nothing the gateway answers is kept unscrubbed: an error echoing the card would reach the database.
 */
export class HttpPaymentGateway implements PaymentAdapter {
  readonly name = 'http-gateway';
  constructor(private readonly o: HttpPaymentGatewayOptions) {}

  async deliver(i: PaymentInstruction): Promise<DeliveryResult> {
    const body = {
      instructionId: i.instructionId,
      paymentId: i.paymentId,
      round: i.round,
      reference: i.reference,
      regionCode: i.regionCode,
      period: i.period,
      amountFen: i.amountFen,
      amount: yuan(i.amountFen),
      summary: i.summary,
      name: i.name,
      bankCard: i.bankCard,
    };
    const answer = await postIdempotent(this.o, i.instructionId, body, 'reference', (text) => scrub(text, i.bankCard));
    return answer.ok ? { ok: true, batchId: null, bankReference: answer.id } : answer;
  }
}
