import path from 'node:path';

export interface Config {
  /** PostgreSQL connection string; unset → embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  host: string;
  port: number;
  /** How long a login token stays valid. */
  sessionHours: number;
  logLevel: string;
  /** Run the timer worker inside the service (default) — WORKER=off to run it separately. */
  worker: boolean;
  /** A fixed "now" (ISO) for demos and tests; unset → the real clock. */
  fixedNow: string | undefined;
  /** Data-encryption keys, `id:base64[,older…]`, current first. */
  dataKeys: string | undefined;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${env.PORT}`);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: path.resolve(env.ONEWINDOW_DATA_DIR ?? 'data/pglite'),
    host: env.HOST ?? '127.0.0.1',
    port,
    sessionHours: Number(env.SESSION_HOURS ?? 12),
    logLevel: env.LOG_LEVEL ?? 'info',
    worker: env.WORKER !== 'off',
    fixedNow: env.ONEWINDOW_NOW || undefined,
    dataKeys: env.ONEWINDOW_DATA_KEYS || undefined,
  };
}
