import type { Knex } from 'knex';
import type { PaymentConfig } from '../config.ts';
import type { Engine } from '../engine/engine.ts';
import { BatchFileAdapter, HttpPaymentGateway, type PaymentAdapter } from './adapters.ts';
import { PaymentDeliverer } from './deliverer.ts';

export { PaymentDeliverer } from './deliverer.ts';
export { BatchFileAdapter, HttpPaymentGateway, type PaymentAdapter } from './adapters.ts';

/** The configured adapter: the HTTP gateway when PAYMENT_GATEWAY_URL is set, else batch files. */
export function adapterFor(config: PaymentConfig, deps: { db: Knex; engine: Engine }): PaymentAdapter {
  return config.gateway ? new HttpPaymentGateway(config.gateway) : new BatchFileAdapter({ db: deps.db, cipher: deps.engine.cipher, dir: config.batchDir, clock: deps.engine.clock });
}

/** The deliverer a service or worker process runs (main.ts, worker.ts). */
export function createDeliverer(
  config: PaymentConfig,
  deps: { db: Knex; engine: Engine; workerId?: string; batchSize?: number; log?: (msg: string, extra?: object) => void; afterSend?: (paymentId: string) => void },
): PaymentDeliverer {
  return new PaymentDeliverer({
    db: deps.db,
    engine: deps.engine,
    adapter: adapterFor(config, deps),
    maxAttempts: config.maxAttempts,
    leaseMs: config.leaseMs,
    workerId: deps.workerId,
    batchSize: deps.batchSize,
    log: deps.log,
    afterSend: deps.afterSend,
  });
}
