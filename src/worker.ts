// npm run worker — the timer worker and the notice dispatcher alone (npm start runs both inside the service too).
import { loadConfig, loadWorkerConfig } from './config.ts';
import { createEngine, loadCipher, openDatabase } from './services.ts';
import { TimerWorker } from './worker/timerWorker.ts';
import { createDispatcher } from './notifications/index.ts';
import { gracefulShutdown } from './shutdown.ts';
import { createDeliverer } from './payments/index.ts';

const config = loadConfig();
const own = loadWorkerConfig();
const db = await openDatabase(config);
const engine = createEngine({ clock: config.fixedNow ? () => new Date(config.fixedNow!) : undefined, cipher: loadCipher(config) });
const worker = new TimerWorker({
  db,
  engine,
  workerId: own.workerId,
  batchSize: own.timerBatch,
  leaseMs: own.timerLeaseMs,
  // Fault injection for crash tests: claim one batch, then die without firing it.
  afterClaim: process.env.WORKER_FAULT === 'exit-after-claim' ? (ids) => ids.length && process.exit(137) : undefined,
  log: (msg, extra) => console.error(JSON.stringify({ msg, ...extra })),
});

const dispatcher = createDispatcher(config.notices, {
  db,
  cipher: engine.cipher,
  clock: engine.clock,
  workerId: own.workerId ? `${own.workerId}:notices` : undefined,
  batchSize: own.noticeBatch,
  // Phone numbers never reach this log: the dispatcher logs notice ids, kinds and redacted errors.
  log: (msg, extra) => console.error(JSON.stringify({ msg, ...extra })),
  // Fault injection for crash tests: NOTICE_FAULT=exit-after-send:<n> dies right after the n-th
  // message the channel accepted, before recording it.
  afterSend: process.env.NOTICE_FAULT?.startsWith('exit-after-send') ? exitAfter(Number(process.env.NOTICE_FAULT.split(':')[1] ?? 1)) : undefined,
});

const deliverer = createDeliverer(config.payments, {
  db,
  engine,
  workerId: own.workerId ? `${own.workerId}:payments` : undefined,
  batchSize: own.paymentBatch,
  // Bank cards never reach this log: the deliverer logs payment ids and scrubbed errors.
  log: (msg, extra) => console.error(JSON.stringify({ msg, ...extra })),
  // PAYMENT_FAULT=exit-after-send:<n> dies right after the n-th instruction the adapter accepted, before recording it.
  afterSend: process.env.PAYMENT_FAULT?.startsWith('exit-after-send') ? exitAfter(Number(process.env.PAYMENT_FAULT.split(':')[1] ?? 1)) : undefined,
});

function exitAfter(n: number) {
  let sent = 0;
  return () => {
    if (++sent >= n) process.exit(137);
  };
}

if (process.env.WORKER_EXIT_WHEN_IDLE === '1') {
  // Drain everything due, then exit: for batch jobs and tests.
  let total = 0;
  for (;;) {
    const r = await worker.runOnce();
    total += r.fired + r.moot;
    if (r.claimed === 0) break;
  }
  let notices = 0;
  if (process.env.NOTICES !== 'off') {
    for (;;) {
      const r = await dispatcher.runOnce();
      notices += r.sent;
      if (r.claimed === 0 && r.taken === 0) break;
    }
  }
  let paid = 0;
  if (config.payments.enabled) {
    for (;;) {
      const r = await deliverer.runOnce();
      paid += r.sent;
      if (r.claimed === 0 && r.taken === 0) break;
    }
  }
  console.log(JSON.stringify({ worker: worker.workerId, fired: total, notices, payments: paid }));
  await db.destroy();
} else {
  worker.start();
  dispatcher.start();
  if (config.payments.enabled) deliverer.start();
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    // Each loop stops after its current item and releases what it leased (src/shutdown.ts).
    const outcome = await gracefulShutdown({
      loops: [worker, dispatcher, deliverer],
      db,
      timeoutMs: config.operations.shutdownTimeoutMs,
      log: (msg, extra) => console.error(JSON.stringify({ msg, ...extra })),
    });
    process.exit(outcome === 'clean' ? 0 : 1);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}
