import type { Knex } from 'knex';
import { insertSinkMessage } from '../db/notices.ts';
import { maskPhone } from '../engine/masking.ts';
import type { PersonalDataCipher } from '../engine/personalData.ts';
import { redactText } from '../http/logging.ts';
import { postIdempotent, type GatewayOptions } from '../gatewayPost.ts';

/** One message to one phone. The idempotency key is the notice's, the same on every attempt. */
export interface OutgoingSms {
  idempotencyKey: string;
  noticeId: string;
  /** Null for a notice of an online application. */
  caseId: string | null;
  regionCode: string;
  to: string;
  text: string;
  segments: number;
}

export type SendResult =
  | { ok: true; providerMessageId: string | null }
  /** retryable false: sending again cannot help (a number the gateway refuses) → dead letter at once. */
  | { ok: false; retryable: boolean; error: string };

/** A delivery channel. Errors it throws count as retryable failures. */
export interface NoticeChannel {
  readonly name: string;
  send(sms: OutgoingSms): Promise<SendResult>;
}

/**
 * The development sink, the embedded default: nothing leaves the machine. It records each message
 * once per idempotency key (as a gateway dedupes), with the number masked and the text encrypted
 * (it may hold a tracking code), for the admin's 通知 screen.
 */
export class DevSinkChannel implements NoticeChannel {
  readonly name = 'dev-sink';
  constructor(private readonly o: { db: Knex; cipher: PersonalDataCipher; clock: () => Date; log?: (msg: string, extra?: object) => void }) {}

  async send(sms: OutgoingSms): Promise<SendResult> {
    const id = await insertSinkMessage(this.o.db, {
      idempotency_key: sms.idempotencyKey,
      notice_id: sms.noticeId,
      case_id: sms.caseId,
      region_code: sms.regionCode,
      recipient_masked: maskPhone(sms.to),
      body: this.o.cipher.encrypt(sms.text),
      segments: sms.segments,
      created_at: this.o.clock(),
    });
    this.o.log?.('dev sink: notice recorded', { noticeId: sms.noticeId, sinkMessageId: id });
    return { ok: true, providerMessageId: `sink-${id}` };
  }
}

export interface HttpGatewayOptions extends GatewayOptions {
  /** Sender signature the gateway has on file, sent as `signName` (the text carries 【一窗通办】 too). */
  signName?: string;
}

/**
 * The production channel: an HTTP SMS gateway. One POST per message —
 * `{ to, text, idempotencyKey, signName? }` as JSON, `Authorization: Bearer <token>`,
 * `Idempotency-Key: <key>` — answered 2xx `{ messageId }` when accepted. The gateway must dedupe on
 * the key: a dispatcher that dies between the gateway's answer and recording it sends again.
 * 408, 425, 429 and 5xx, timeouts and network errors are retried; other 4xx are final; 409 (the
 * key was delivered already) counts as delivered. Nothing the gateway answers is kept or logged
 * unredacted: an error body echoing the number would otherwise reach the database.
 */
export class HttpGatewayChannel implements NoticeChannel {
  readonly name = 'http-gateway';
  constructor(private readonly o: HttpGatewayOptions) {}

  async send(sms: OutgoingSms): Promise<SendResult> {
    const body = { to: sms.to, text: sms.text, idempotencyKey: sms.idempotencyKey, ...(this.o.signName ? { signName: this.o.signName } : {}) };
    const answer = await postIdempotent(this.o, sms.idempotencyKey, body, 'messageId', (text) => redactText(text.replaceAll(sms.to, maskPhone(sms.to))));
    return answer.ok ? { ok: true, providerMessageId: answer.id } : answer;
  }
}
