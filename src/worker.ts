// npm run worker — the timer worker alone (npm start runs one inside the service too).
import { loadConfig } from './config.ts';
import { createEngine, loadCipher, openDatabase } from './services.ts';
import { TimerWorker } from './worker/timerWorker.ts';

const config = loadConfig();
const db = await openDatabase(config);
const engine = createEngine({ clock: config.fixedNow ? () => new Date(config.fixedNow!) : undefined, cipher: loadCipher(config) });
const worker = new TimerWorker({
  db,
  engine,
  workerId: process.env.WORKER_ID,
  batchSize: Number(process.env.WORKER_BATCH ?? 100),
  leaseMs: Number(process.env.WORKER_LEASE_MS ?? 60_000),
  // Fault injection for crash tests: claim one batch, then die without firing it.
  afterClaim: process.env.WORKER_FAULT === 'exit-after-claim' ? (ids) => ids.length && process.exit(137) : undefined,
  log: (msg, extra) => console.error(JSON.stringify({ msg, ...extra })),
});

if (process.env.WORKER_EXIT_WHEN_IDLE === '1') {
  // Drain everything due, then exit: for batch jobs and tests.
  let total = 0;
  for (;;) {
    const r = await worker.runOnce();
    total += r.fired + r.moot;
    if (r.claimed === 0) break;
  }
  console.log(JSON.stringify({ worker: worker.workerId, fired: total }));
  await db.destroy();
} else {
  worker.start();
  const shutdown = async () => {
    await worker.stop();
    await db.destroy();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}
