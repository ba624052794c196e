import type { Config } from './config.ts';
import { buildApp } from './http/app.ts';
import { installConnectionLimits, trustedProxyMatcher } from './http/connections.ts';
import { purgeExpiredKeys } from './http/idempotency.ts';
import { loggerOptions } from './http/logging.ts';
import { DEFAULT_WEB_ROOT } from './http/static.ts';
import { DEMO_PASSWORD, DEMO_USERS, seedDemo } from './seed.ts';
import { createEngine, loadCipher, openDatabase } from './services.ts';
import { TimerWorker } from './worker/timerWorker.ts';
import { createDispatcher } from './notifications/index.ts';
import { createMetrics } from './metrics/index.ts';
import { gracefulShutdown } from './shutdown.ts';
import { createDeliverer } from './payments/index.ts';
import { isServiceProcessOfCluster } from './cluster.ts';

/**
 * One whole service process: the API and workbench on the port, and unless WORKER=off the timer
 * worker, the notice dispatcher and payment delivery. src/main.ts runs it, alone or as one of
 * SERVICE_PROCESSES (src/cluster.ts).
 */
export async function serve(config: Config): Promise<void> {
  const clustered = isServiceProcessOfCluster();
  const db = await openDatabase(config);
  if (!config.databaseUrl && !(await db('users').first())) {
    // First start on the embedded database: give a new user something to log in with.
    await seedDemo(db);
    console.log(`demo users seeded (password ${DEMO_PASSWORD}): ${DEMO_USERS.map((u) => u.username).join(', ')}`);
  }
  // One registry for the process: the engine counts transitions into it, GET /metrics shows it.
  // In a cluster, GET /metrics answers for all the host's service processes.
  const metrics = createMetrics({ clustered });
  const engine = createEngine({ clock: config.fixedNow ? () => new Date(config.fixedNow!) : undefined, cipher: loadCipher(config), onTransition: metrics.onTransition });
  const ops = config.operations;
  const lifecycle = { draining: false };
  const app = await buildApp({
    db,
    engine,
    sessionHours: config.sessionHours,
    webRoot: DEFAULT_WEB_ROOT,
    metrics,
    lifecycle,
    readiness: { workers: ops.readyWorkers, heartbeatStaleMs: ops.heartbeatStaleMs, metricsToken: ops.metricsToken },
    overload: ops.overload,
  }, {
    // Tokens, passwords, tracking codes, ID and phone numbers never reach the log (logging.ts).
    logger: loggerOptions(config.logLevel),
    trustProxy: config.trustProxy,
  });
  // Caps per client address and in total, headers and request timeouts; trusted proxies carry
  // many clients, so only the total caps them.
  // In a cluster the per-address cap is shared out: the primary hands each process about 1/n of
  // an address's connections, so together they keep the one cap.
  const connections = clustered ? { ...config.connections, maxPerAddress: Math.max(1, Math.ceil(config.connections.maxPerAddress / config.serviceProcesses)) } : config.connections;
  installConnectionLimits(app.server, connections, trustedProxyMatcher(config.trustProxy));

  // Expired idempotency keys are purged by every service process, worker or not (bounded batches).
  const purgeTimer = setInterval(() => {
    void (async () => {
      for (let i = 0; i < 100 && (await purgeExpiredKeys(db, engine.clock(), true)) > 0; i++);
    })().catch((err) => app.log.warn({ err }, 'purging expired idempotency keys failed'));
  }, 10 * 60_000);
  purgeTimer.unref();

  const worker = config.worker
    ? new TimerWorker({ db, engine, log: (msg, extra) => app.log.warn(extra ?? {}, msg) })
    : null;
  // Citizen notices ride with the timer worker: in-process unless WORKER=off (docs/notifications.md).
  const dispatcher = config.worker
    ? createDispatcher(config.notices, { db, cipher: engine.cipher, clock: engine.clock, log: (msg, extra) => app.log.info(extra ?? {}, msg) })
    : null;
  // Payments (发放) ride with the timer worker too, unless PAYMENTS=off (docs/payments.md).
  const deliverer = config.worker && config.payments.enabled
    ? createDeliverer(config.payments, { db, engine, log: (msg, extra) => app.log.info(extra ?? {}, msg) })
    : null;

  let closing = false;
  async function shutdown(signal: string) {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    clearInterval(purgeTimer);
    // In-flight requests finish, loops release what they leased, then the pool closes (src/shutdown.ts).
    const outcome = await gracefulShutdown({
      app,
      lifecycle,
      loops: [worker, dispatcher, deliverer].filter((l) => l !== null),
      db,
      timeoutMs: ops.shutdownTimeoutMs,
      log: (msg, extra) => app.log.info(extra ?? {}, msg),
    });
    process.exit(outcome === 'clean' ? 0 : 1);
  }
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ host: config.host, port: config.port });
  worker?.start();
  dispatcher?.start();
  deliverer?.start();
  app.log.info(`OneWindow on ${config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${config.dataDir})`}; API docs at /docs, workbench at /`);
  if (dispatcher && config.notices.gateway) app.log.info(`citizen notices via ${dispatcher.channelName}`);
  // The dev sink shows admins what citizens would receive, tracking codes included: say so loudly on a server database.
  else if (dispatcher) app.log[config.databaseUrl ? 'warn' : 'info']('citizen notices go to the development sink: no SMS leaves this machine and admins can read the texts; set SMS_GATEWAY_URL to send');
}
