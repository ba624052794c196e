import { hostname } from 'node:os';
import { PollLoop } from '../worker/pollLoop.ts';
import type { Knex } from 'knex';
import * as cases from '../db/cases.ts';
import * as payments from '../db/payments.ts';
import { SYSTEM_ACTOR } from '../engine/authorization.ts';
import type { Engine } from '../engine/engine.ts';
import { redactText } from '../http/logging.ts';
import { RETRY_SCHEDULE_MS, retryDelay } from '../notifications/dispatcher.ts';
import type { PaymentAdapter, PaymentInstruction } from './adapters.ts';
import { recordFailed } from './correction.ts';

export { RETRY_SCHEDULE_MS };

export interface DelivererOptions {
  db: Knex;
  engine: Engine;
  adapter: PaymentAdapter;
  workerId?: string;
  batchSize?: number;
  /** How long a claimed payment is ours, renewed before each attempt; must exceed one delivery's timeout. */
  leaseMs?: number;
  /** Failed attempts before the payment becomes an incident and stops retrying. */
  maxAttempts?: number;
  idleMs?: number;
  /** Called after the adapter accepted an instruction, before that is recorded — fault injection for crash tests. */
  afterSend?: (paymentId: string) => void | Promise<void>;
  log?: (msg: string, extra?: object) => void;
}

export interface DeliveryRunResult {
  /** payment.requested outbox rows taken. */
  taken: number;
  claimed: number;
  sent: number;
  retrying: number;
  incidents: number;
  /** Nothing to pay to (no valid card): failed at once, a correction task opened. */
  failed: number;
  skipped: number;
}

/** 摘要 on the bank statement: the procedure, e.g. 最低生活保障（低保）申请 → 最低生活保障（低保）. */
const summaryOf = (name: string) => name.replace(/申请$/, '').slice(0, 40);

/**
 * Delivers payments (发放), on the model of the notice dispatcher: stateless, any number of
 * deliverers in any number of processes on one database. Each batch
 *   1. takes `payment.requested` outbox rows (SKIP LOCKED) and makes their payments due, then
 *   2. leases due payments (SKIP LOCKED + lease), and for each renews the lease and counts the
 *      attempt — skipping one no longer ours — reads the sealed bank card from the case, hands the
 *      instruction `<paymentId>-<round>` to the adapter, and records: sent (never delivered again
 *      in this round), a retry after back-off, or an incident after maxAttempts (or a final refusal).
 * A deliverer dying after the adapter accepted but before recording leaves the payment leased;
 * when the lease runs out another delivers it again with the same instruction id, which the
 * batch file (one line per id) and the gateway (idempotency key) take once.
 */
export class PaymentDeliverer {
  readonly workerId: string;
  private readonly poll = new PollLoop({
    round: async () => {
      const r = await this.runOnce();
      return r.claimed >= (this.o.batchSize ?? 50) || r.taken >= (this.o.batchSize ?? 50) * 2;
    },
    idleMs: () => this.o.idleMs ?? 2000,
    onError: (err) => this.o.log?.('payment delivery failed', { message: redactText(err instanceof Error ? err.message : String(err)) }),
  });

  constructor(private readonly o: DelivererOptions) {
    this.workerId = o.workerId ?? `${hostname()}:${process.pid}:p${Math.random().toString(36).slice(2, 8)}`;
  }

  get adapterName(): string {
    return this.o.adapter.name;
  }

  private now(): Date {
    return this.o.engine.clock();
  }

  async runOnce(): Promise<DeliveryRunResult> {
    const { db } = this.o;
    const batch = this.o.batchSize ?? 50;
    const leaseMs = this.o.leaseMs ?? 60_000;
    const result: DeliveryRunResult = { taken: 0, claimed: 0, sent: 0, retrying: 0, incidents: 0, failed: 0, skipped: 0 };
    result.taken = await db.transaction((trx) => payments.takePaymentOutbox(trx, this.now(), batch * 2));
    const now = this.now();
    const claimed = await payments.claimDuePayments(db, this.workerId, now, new Date(now.getTime() + leaseMs), batch);
    result.claimed = claimed.length;
    for (let i = 0; i < claimed.length; i++) {
      if (this.poll.stopped) {
        await payments.releasePayments(db, claimed.slice(i).map((p) => p.id), this.workerId);
        break;
      }
      result[await this.deliver(claimed[i], leaseMs)]++;
    }
    await this.o.adapter.flush?.({ drained: claimed.length < batch });
    return result;
  }

  private async deliver(p: payments.DeliveryRow, leaseMs: number): Promise<'sent' | 'retrying' | 'incidents' | 'failed' | 'skipped'> {
    const { db, adapter, engine } = this.o;
    const start = this.now();
    const current = await payments.startAttempt(db, p.id, this.workerId, start, new Date(start.getTime() + leaseMs));
    if (!current) return 'skipped';
    const maxAttempts = this.o.maxAttempts ?? 8;
    const fail = async (error: string, retryable: boolean) => {
      const incident = !retryable || current.attempts >= maxAttempts;
      const at = this.now();
      await payments.recordFailure(db, p.id, this.workerId, { error, channel: adapter.name, retryAt: incident ? at : new Date(at.getTime() + retryDelay(current.attempts)), incident, at });
      this.o.log?.(incident ? 'payment delivery became an incident' : 'payment delivery failed, will retry', { paymentId: p.id, round: current.round, attempt: current.attempts, error });
      return incident ? ('incidents' as const) : ('retrying' as const);
    };

    let instruction: PaymentInstruction;
    try {
      const row = (await cases.getCase(db, current.case_id))!;
      const applicant = engine.cipher.open(row.applicant) as { name?: string; bankCard?: string };
      if (typeof applicant.bankCard !== 'string' || !/^\d{12,19}$/.test(applicant.bankCard)) {
        // Nothing to retry: the township must get a card from the applicant (发放失败更正).
        await db.transaction((trx) => recordFailed(engine, trx, current, { reason: '申请人未登记有效的发放银行卡号', actor: SYSTEM_ACTOR, source: 'delivery' }));
        this.o.log?.('payment has no bank card: correction task opened', { paymentId: p.id });
        return 'failed';
      }
      const def = engine.registry.pinned(row.procedure_id, row.definition_version);
      instruction = {
        instructionId: payments.instructionId(current),
        paymentId: current.id,
        round: current.round,
        caseId: row.id,
        reference: row.reference,
        regionCode: row.region_code,
        period: current.period,
        amountFen: current.amount_fen,
        summary: summaryOf(def.name),
        name: String(applicant.name ?? row.applicant_name),
        bankCard: applicant.bankCard,
      };
    } catch (err) {
      return fail(`cannot prepare the instruction: ${redactText((err as Error).message)}`, true);
    }
    let sent;
    try {
      sent = await adapter.deliver(instruction);
    } catch (err) {
      sent = { ok: false as const, retryable: true, error: `${(err as Error).name}: ${redactText(String((err as Error).message).replaceAll(instruction.bankCard, '****'))}` };
    }
    if (!sent.ok) return fail(sent.error, sent.retryable);
    await this.o.afterSend?.(p.id);
    await payments.markSent(db, p.id, current.round, { channel: adapter.name, batchId: sent.batchId, bankReference: sent.bankReference, at: this.now() });
    return 'sent';
  }

  /** Polls until stopped; a full batch is followed at once by the next. */
  start(): void {
    this.poll.start();
  }

  async stop(): Promise<void> {
    await this.poll.stop();
  }
}
