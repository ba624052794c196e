import { loadConfig } from './config.ts';
import { buildApp } from './http/app.ts';
import { DEMO_PASSWORD, DEMO_USERS, seedDemo } from './seed.ts';
import { createEngine, loadCipher, openDatabase } from './services.ts';
import { TimerWorker } from './worker/timerWorker.ts';

const config = loadConfig();
const db = await openDatabase(config);
if (!config.databaseUrl && !(await db('users').first())) {
  // First start on the embedded database: give a new user something to log in with.
  await seedDemo(db);
  console.log(`demo users seeded (password ${DEMO_PASSWORD}): ${DEMO_USERS.map((u) => u.username).join(', ')}`);
}
const engine = createEngine({ clock: config.fixedNow ? () => new Date(config.fixedNow!) : undefined, cipher: loadCipher(config) });
const app = await buildApp({ db, engine, sessionHours: config.sessionHours }, {
  logger: {
    level: config.logLevel,
    // Tokens and passwords never reach the log.
    redact: ['req.headers.authorization', 'req.body.password'],
  },
});

const worker = config.worker
  ? new TimerWorker({ db, engine, log: (msg, extra) => app.log.warn(extra ?? {}, msg) })
  : null;

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  await worker?.stop();
  await app.close();
  await db.destroy();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await app.listen({ host: config.host, port: config.port });
worker?.start();
app.log.info(`OneWindow on ${config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${config.dataDir})`}; API docs at /docs`);
