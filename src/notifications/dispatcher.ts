import { hostname } from 'node:os';
import { PollLoop } from '../worker/pollLoop.ts';
import type { Knex } from 'knex';
import * as notices from '../db/notices.ts';
import type { PersonalDataCipher } from '../engine/personalData.ts';
import { maskPhone } from '../engine/masking.ts';
import { redactText } from '../http/logging.ts';
import type { NoticeChannel } from './channels.ts';
import { Heartbeat } from '../worker/heartbeat.ts';
import { NOTICE_KINDS, renderNotice, smsSegments, type NoticeKind, type NoticePayloads } from './templates.ts';

/** Delay before attempt n+1 after n failures: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, then 4 h. */
export const RETRY_SCHEDULE_MS = [30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];
export const retryDelay = (failures: number) => RETRY_SCHEDULE_MS[Math.min(failures, RETRY_SCHEDULE_MS.length) - 1];

export interface DispatcherOptions {
  db: Knex;
  cipher: PersonalDataCipher;
  channel: NoticeChannel;
  /** Base of the tracking link in every text, e.g. https://ywt.example.gov.cn. */
  publicBaseUrl: string;
  clock?: () => Date;
  workerId?: string;
  batchSize?: number;
  /** How long a claimed notice is ours, renewed just before each send; must exceed one send's timeout. */
  leaseMs?: number;
  /** Failed attempts before a notice is dead-lettered. */
  maxAttempts?: number;
  idleMs?: number;
  /** Called after the channel accepted a message, before that is recorded — fault injection for crash tests. */
  afterSend?: (noticeId: string) => void | Promise<void>;
  log?: (msg: string, extra?: object) => void;
}

export interface DispatchResult {
  /** Outbox rows taken into notices. */
  taken: number;
  claimed: number;
  sent: number;
  retrying: number;
  dead: number;
  /** Claimed but no longer ours at send time (another dispatcher, an admin): not sent. */
  skipped: number;
}

/**
 * Delivers citizen notices: at least once, and once in effect. Stateless, like the timer worker:
 * any number of dispatchers in any number of processes share one database. Each batch
 *   1. takes `notice.*` outbox rows into `notices` (SKIP LOCKED; unique per outbox row), then
 *   2. leases due notices (SKIP LOCKED) and, for each, renews the lease and counts the attempt
 *      — skipping it if it is no longer ours — sends it with its idempotency key, and records the
 *      outcome: sent (never sent again), a retry after back-off, or dead after maxAttempts.
 * Sending happens outside any transaction. A dispatcher dying after the gateway accepted a
 * message but before recording it leaves the notice leased; when the lease runs out another
 * dispatcher sends it again with the same key, and the gateway (or the dev sink) dedupes it.
 */
export class NoticeDispatcher {
  readonly workerId: string;
  private readonly poll = new PollLoop({
    round: async () => {
      await this.heartbeat.tick();
      const r = await this.runOnce();
      return r.claimed >= (this.o.batchSize ?? 50) || r.taken >= (this.o.batchSize ?? 50) * 2;
    },
    idleMs: () => this.o.idleMs ?? 2000,
    onError: (err) => this.o.log?.('notice dispatch failed', { message: redactText(err instanceof Error ? err.message : String(err)) }),
  });
  private readonly clock: () => Date;
  /** Read by /readyz of every service process (worker_heartbeats). */
  readonly heartbeat: Heartbeat;

  constructor(private readonly o: DispatcherOptions) {
    this.workerId = o.workerId ?? `${hostname()}:${process.pid}:n${Math.random().toString(36).slice(2, 8)}`;
    this.clock = o.clock ?? (() => new Date());
    this.heartbeat = new Heartbeat(o.db, this.workerId, 'notices', this.clock);
  }

  get channelName(): string {
    return this.o.channel.name;
  }

  async runOnce(): Promise<DispatchResult> {
    const { db } = this.o;
    const batch = this.o.batchSize ?? 50;
    const leaseMs = this.o.leaseMs ?? 60_000;
    const result: DispatchResult = { taken: 0, claimed: 0, sent: 0, retrying: 0, dead: 0, skipped: 0 };
    result.taken = await db.transaction((trx) => notices.takeNoticeOutbox(trx, this.clock(), batch * 2));

    const now = this.clock();
    const claimed = await notices.claimDueNotices(db, this.workerId, now, new Date(now.getTime() + leaseMs), batch);
    result.claimed = claimed.length;
    if (!claimed.length) return result;
    const applicants = await notices.applicantsOf(db, claimed.flatMap((n) => (n.case_id ? [n.case_id] : [])));
    const applicationApplicants = await notices.applicationApplicantsOf(db, claimed.flatMap((n) => (n.case_id || !n.application_id ? [] : [n.application_id])));
    const applicantOf = (n: notices.NoticeRow) => (n.case_id ? applicants.get(n.case_id) : applicationApplicants.get(n.application_id ?? ''));
    for (let i = 0; i < claimed.length; i++) {
      if (this.poll.stopped) {
        await notices.releaseNotices(db, claimed.slice(i).map((n) => n.id), this.workerId);
        break;
      }
      result[await this.deliver(claimed[i], applicantOf(claimed[i]), leaseMs)]++;
    }
    return result;
  }

  private async deliver(n: notices.NoticeRow, applicant: unknown, leaseMs: number): Promise<'sent' | 'retrying' | 'dead' | 'skipped'> {
    const { db, channel } = this.o;
    const start = this.clock();
    const attempt = await notices.startAttempt(db, n.id, this.workerId, start, new Date(start.getTime() + leaseMs));
    if (attempt === null) return 'skipped';
    const maxAttempts = this.o.maxAttempts ?? 8;
    const fail = async (error: string, retryable: boolean) => {
      const dead = !retryable || attempt >= maxAttempts;
      const at = this.clock();
      await notices.recordFailure(db, n.id, this.workerId, { error, channel: channel.name, retryAt: dead ? at : new Date(at.getTime() + retryDelay(attempt)), dead, at });
      this.o.log?.(dead ? 'notice dead-lettered' : 'notice delivery failed, will retry', { noticeId: n.id, kind: n.kind, attempt, error });
      return dead ? ('dead' as const) : ('retrying' as const);
    };

    let text: string;
    let to: string;
    try {
      to = this.phoneOf(applicant);
      text = this.render(n);
    } catch (err) {
      return fail(`cannot prepare the message: ${redactText((err as Error).message)}`, false);
    }
    const segments = smsSegments(text);
    let sent;
    try {
      sent = await channel.send({ idempotencyKey: n.idempotency_key, noticeId: n.id, caseId: n.case_id, regionCode: n.region_code, to, text, segments });
    } catch (err) {
      sent = { ok: false as const, retryable: true, error: `${(err as Error).name}: ${redactText(String((err as Error).message).replaceAll(to, maskPhone(to)))}` };
    }
    if (!sent.ok) return fail(sent.error, sent.retryable);
    await this.o.afterSend?.(n.id);
    await notices.markSent(db, n.id, { channel: channel.name, providerMessageId: sent.providerMessageId, segments, at: this.clock() });
    return 'sent';
  }

  private phoneOf(applicant: unknown): string {
    if (!applicant || typeof applicant !== 'object') throw new Error('the case has no applicant record');
    const phone = (this.o.cipher.open(applicant) as { phone?: unknown }).phone;
    if (typeof phone !== 'string' || !/^1\d{10}$/.test(phone)) throw new Error('the applicant has no mobile number');
    return phone;
  }

  /** The text, with sealed parts (the tracking code) opened only here, in memory. */
  render(n: Pick<notices.NoticeRow, 'kind' | 'payload'>): string {
    if (!(NOTICE_KINDS as readonly string[]).includes(n.kind)) throw new Error(`unknown notice kind ${n.kind}`);
    const kind = n.kind as NoticeKind;
    const payload = { ...n.payload } as Record<string, unknown>;
    if (kind === 'accepted') payload.trackingCode = this.o.cipher.decrypt(String(payload.trackingCode));
    if (kind === 'phone_code') payload.code = this.o.cipher.decrypt(String(payload.code));
    return renderNotice(kind, payload as unknown as NoticePayloads[typeof kind], this.o.publicBaseUrl);
  }

  /** Polls until stopped; a full batch is followed at once by the next. */
  start(): void {
    this.poll.start();
  }

  /** Ends the loop after the notice being sent; claimed notices not sent yet are released (runOnce). */
  async stop(): Promise<void> {
    if (await this.poll.stop()) await this.heartbeat.stop();
  }

}
