import type { Knex } from 'knex';
import type { NoticeConfig } from '../config.ts';
import type { PersonalDataCipher } from '../engine/personalData.ts';
import { DevSinkChannel, HttpGatewayChannel, type NoticeChannel } from './channels.ts';
import { NoticeDispatcher } from './dispatcher.ts';

export { NoticeDispatcher } from './dispatcher.ts';
export { DevSinkChannel, HttpGatewayChannel, type NoticeChannel } from './channels.ts';

/** The configured channel: the HTTP gateway when SMS_GATEWAY_URL is set, else the development sink. */
export function channelFor(config: NoticeConfig, deps: { db: Knex; cipher: PersonalDataCipher; clock: () => Date; log?: (msg: string, extra?: object) => void }): NoticeChannel {
  return config.gateway ? new HttpGatewayChannel(config.gateway) : new DevSinkChannel(deps);
}

/** The dispatcher a service or worker process runs (main.ts, worker.ts). */
export function createDispatcher(
  config: NoticeConfig,
  deps: { db: Knex; cipher: PersonalDataCipher; clock: () => Date; workerId?: string; log?: (msg: string, extra?: object) => void; afterSend?: (noticeId: string) => void; batchSize?: number },
): NoticeDispatcher {
  return new NoticeDispatcher({
    db: deps.db,
    cipher: deps.cipher,
    clock: deps.clock,
    channel: channelFor(config, deps),
    publicBaseUrl: config.publicBaseUrl,
    maxAttempts: config.maxAttempts,
    leaseMs: config.leaseMs,
    workerId: deps.workerId,
    log: deps.log,
    afterSend: deps.afterSend,
    batchSize: deps.batchSize,
  });
}
