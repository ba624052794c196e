import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import path from 'node:path';
import { WORKER_KINDS } from './worker/heartbeat.ts';
import { DEFAULT_CONNECTION_LIMITS, defaultMaxConnections, descriptorLimit, type ConnectionLimits } from './http/connections.ts';

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
  /**
   * SERVICE_PROCESSES: service processes on this host sharing the port (Node cluster; `auto`:
   * one per core). 1 (default): this process serves. PostgreSQL only: the embedded database
   * lives in one process.
   */
  serviceProcesses: number;
  /** A fixed "now" (ISO) for demos and tests; unset → the real clock. */
  fixedNow: string | undefined;
  /** Data-encryption keys, `id:base64[,older…]`, current first. */
  dataKeys: string | undefined;
  /**
   * Fastify `trustProxy`: whose X-Forwarded-For to believe. false (default) → nobody, the socket
   * address is the client; or a list of proxy addresses / CIDRs.
   */
  trustProxy: false | string[];
  /** Caps and timeouts of the listening server (src/http/connections.ts). */
  connections: ConnectionLimits;
  /** Citizen notices (src/notifications, docs/notifications.md). */
  notices: NoticeConfig;
  /** The PostgreSQL pool (src/db/connection.ts); PGlite ignores it. */
  database: DatabaseConfig;
  /** Health, metrics, load shedding and shutdown (docs/operations.md). */
  operations: OperationsConfig;
  /** Payment delivery (src/payments, docs/payments.md). */
  payments: PaymentConfig;
}

export interface DatabaseConfig {
  /** DB_POOL_MAX: connections per process. */
  poolMax: number;
  /**
   * DB_POOLER: `transaction` when DATABASE_URL goes through PgBouncer in transaction mode
   * (docs/scaling.md §3): the login role must already act as the application role and carry the
   * timeouts itself; migrations then go over DATABASE_MIGRATION_URL. `none` (default): direct.
   */
  pooler: 'none' | 'transaction';
  /** DATABASE_MIGRATION_URL: a direct connection as the schema owner, for migrations (required with DB_POOLER=transaction). */
  migrationUrl: string | undefined;
  /** DB_STATEMENT_TIMEOUT_MS: longest single statement (PostgreSQL `statement_timeout`). */
  statementTimeoutMs: number;
  /** DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: a transaction idle this long is ended by the server. */
  idleInTransactionTimeoutMs: number;
}

export interface OperationsConfig {
  /** METRICS_TOKEN: bearer token for GET /metrics from outside loopback; unset → loopback only. */
  metricsToken: string | undefined;
  /** READY_WORKERS: worker kinds whose recent heartbeat /readyz requires (`none` → none). */
  readyWorkers: string[];
  /** WORKER_HEARTBEAT_STALE_MS: a heartbeat older than this does not count. */
  heartbeatStaleMs: number;
  /** OVERLOAD_*: shed load (503 OVERLOADED) past these; 0 turns a check off. */
  overload: { maxEventLoopDelayMs: number; maxHeapUsedBytes: number; maxRssBytes: number; retryAfterSeconds: number };
  /** SHUTDOWN_TIMEOUT_MS: longest wait for in-flight requests and loops on SIGTERM. */
  shutdownTimeoutMs: number;
}

export interface PaymentConfig {
  /** PAYMENTS=off: this process delivers no payments. */
  enabled: boolean;
  /** Where the batch-file adapter writes (PAYMENT_BATCH_DIR; default data/payment-batches). */
  batchDir: string;
  /** The bank/finance HTTP gateway (PAYMENT_GATEWAY_URL…); unset → batch files. */
  gateway: { url: string; token: string | undefined; timeoutMs: number } | undefined;
  /** Failed attempts before a payment becomes an incident (PAYMENT_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Lease of a claimed payment (PAYMENT_LEASE_MS); longer than one delivery's timeout. */
  leaseMs: number;
}

export function loadPaymentConfig(env: NodeJS.ProcessEnv): PaymentConfig {
  const timeoutMs = positiveInt(env, 'PAYMENT_GATEWAY_TIMEOUT_MS', 15_000);
  const leaseMs = positiveInt(env, 'PAYMENT_LEASE_MS', Math.max(60_000, 3 * timeoutMs));
  if (leaseMs <= timeoutMs) throw new Error(`PAYMENT_LEASE_MS (${leaseMs}) must be longer than PAYMENT_GATEWAY_TIMEOUT_MS (${timeoutMs}): a lease running out mid-delivery would let another deliverer send too`);
  return {
    enabled: env.PAYMENTS !== 'off',
    batchDir: path.resolve(env.PAYMENT_BATCH_DIR ?? 'data/payment-batches'),
    gateway: env.PAYMENT_GATEWAY_URL ? { url: httpUrl('PAYMENT_GATEWAY_URL', env.PAYMENT_GATEWAY_URL), token: env.PAYMENT_GATEWAY_TOKEN || undefined, timeoutMs } : undefined,
    maxAttempts: positiveInt(env, 'PAYMENT_MAX_ATTEMPTS', 8),
    leaseMs,
  };
}

export interface NoticeConfig {
  /** Base of the tracking link in every SMS (PUBLIC_BASE_URL), e.g. https://ywt.example.gov.cn. */
  publicBaseUrl: string;
  /** The HTTP SMS gateway (SMS_GATEWAY_URL…); unset → the development sink. */
  gateway: { url: string; token: string | undefined; timeoutMs: number; signName: string | undefined } | undefined;
  /** Failed attempts before a notice is dead-lettered (NOTICE_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Lease of a claimed notice (NOTICE_LEASE_MS); longer than one send's timeout. */
  leaseMs: number;
}

function httpUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} must be an http(s) URL, got ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${name} must be an http(s) URL, got ${raw}`);
  return raw;
}

export function loadNoticeConfig(env: NodeJS.ProcessEnv, port: number): NoticeConfig {
  const timeoutMs = positiveInt(env, 'SMS_GATEWAY_TIMEOUT_MS', 10_000);
  const leaseMs = positiveInt(env, 'NOTICE_LEASE_MS', Math.max(60_000, 3 * timeoutMs));
  if (leaseMs <= timeoutMs) throw new Error(`NOTICE_LEASE_MS (${leaseMs}) must be longer than SMS_GATEWAY_TIMEOUT_MS (${timeoutMs}): a lease running out mid-send would let another dispatcher send too`);
  return {
    publicBaseUrl: httpUrl('PUBLIC_BASE_URL', env.PUBLIC_BASE_URL || `http://127.0.0.1:${port || 3000}`).replace(/\/+$/, ''),
    gateway: env.SMS_GATEWAY_URL
      ? { url: httpUrl('SMS_GATEWAY_URL', env.SMS_GATEWAY_URL), token: env.SMS_GATEWAY_TOKEN || undefined, timeoutMs, signName: env.SMS_SIGN_NAME || undefined }
      : undefined,
    maxAttempts: positiveInt(env, 'NOTICE_MAX_ATTEMPTS', 8),
    leaseMs,
  };
}

/**
 * TRUST_PROXY: unset/"false" → trust nobody; otherwise a comma list of proxy addresses, CIDRs or
 * loopback/linklocal/uniquelocal. "true" (trust anyone) is refused: it would let every client
 * choose its own address and so escape every per-address limit. Hop counts are refused too:
 * Fastify 5 treats a number as "trust nobody" (it cannot check the immediate peer).
 */
export function parseTrustProxy(value: string | undefined): false | string[] {
  const text = (value ?? '').trim();
  if (text === '' || text === 'false') return false;
  if (text === 'true' || /^\d+$/.test(text)) {
    throw new Error(`TRUST_PROXY=${text}: give the reverse proxy's addresses or CIDRs (e.g. 10.0.0.5,10.1.0.0/16); "true" and hop counts would let clients choose their own address`);
  }
  const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
  for (const e of entries) {
    const [address, prefix, extra] = e.split('/');
    const named = ['loopback', 'linklocal', 'uniquelocal'].includes(e);
    const bits = isIP(address) === 6 ? 128 : 32;
    const okPrefix = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits);
    if (!named && (!isIP(address) || !okPrefix || extra !== undefined)) throw new Error(`TRUST_PROXY: "${e}" is not an address, CIDR, hop count or loopback/linklocal/uniquelocal`);
  }
  return entries;
}

function nonNegativeInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  return raw === '0' ? 0 : positiveInt(env, name, fallback);
}

export function loadOperationsConfig(env: NodeJS.ProcessEnv, heapLimitBytes: number): OperationsConfig {
  const workers = (env.READY_WORKERS ?? 'timers,notices').split(',').map((w) => w.trim()).filter(Boolean);
  // A misspelt kind would keep /readyz at 503 WORKER_STALE forever: no loop beats under that name.
  const unknown = workers.filter((w) => w !== 'none' && !(WORKER_KINDS as readonly string[]).includes(w));
  if (unknown.length) throw new Error(`READY_WORKERS: unknown worker kind ${unknown.join(', ')} (kinds: ${WORKER_KINDS.join(', ')}, or none)`);
  return {
    metricsToken: env.METRICS_TOKEN || undefined,
    readyWorkers: workers.includes('none') ? [] : workers,
    heartbeatStaleMs: positiveInt(env, 'WORKER_HEARTBEAT_STALE_MS', 60_000),
    overload: {
      maxEventLoopDelayMs: nonNegativeInt(env, 'OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', 1_000),
      // Shed before V8 runs out of heap, not after.
      maxHeapUsedBytes: nonNegativeInt(env, 'OVERLOAD_MAX_HEAP_BYTES', Math.floor(heapLimitBytes * 0.9)),
      maxRssBytes: nonNegativeInt(env, 'OVERLOAD_MAX_RSS_BYTES', 0),
      retryAfterSeconds: positiveInt(env, 'OVERLOAD_RETRY_AFTER_S', 10),
    },
    shutdownTimeoutMs: positiveInt(env, 'SHUTDOWN_TIMEOUT_MS', 25_000),
  };
}

function poolerConfig(env: NodeJS.ProcessEnv): Pick<DatabaseConfig, 'pooler' | 'migrationUrl'> {
  const pooler = env.DB_POOLER || 'none';
  if (pooler !== 'none' && pooler !== 'transaction') throw new Error(`DB_POOLER must be none or transaction, got ${pooler}`);
  const migrationUrl = env.DATABASE_MIGRATION_URL || undefined;
  if (pooler === 'transaction' && (!env.DATABASE_URL || !migrationUrl)) {
    throw new Error('DB_POOLER=transaction needs DATABASE_URL (through PgBouncer, as the service role) and DATABASE_MIGRATION_URL (direct, as the schema owner)');
  }
  return { pooler, migrationUrl };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return positiveNumber(env, name, fallback, true);
}

/** A positive number; fractions allowed (SESSION_HOURS=0.5) unless `integer`. */
function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, integer = false): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n <= 0) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${raw}`);
  return n;
}

/** ONEWINDOW_NOW: a fixed instant, refused at start if it is not one (every command would fail on it). */
function fixedNow(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.ONEWINDOW_NOW || undefined;
  if (raw !== undefined && Number.isNaN(new Date(raw).getTime())) throw new Error(`ONEWINDOW_NOW must be an ISO date-time, e.g. 2026-03-18T09:30:00+08:00, got ${raw}`);
  return raw;
}

/** What `npm run worker` reads (src/worker.ts); the service's in-process loops keep their defaults. */
export interface WorkerConfig {
  /** WORKER_ID: names this process in claims and heartbeats; unset → host and pid. */
  workerId: string | undefined;
  /** WORKER_BATCH: timers claimed per batch. */
  timerBatch: number;
  /** WORKER_LEASE_MS: how long a claimed timer stays this worker's. */
  timerLeaseMs: number;
  /** NOTICE_BATCH / PAYMENT_BATCH: notices and payments claimed per batch. */
  noticeBatch: number;
  paymentBatch: number;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return {
    workerId: env.WORKER_ID || undefined,
    timerBatch: positiveInt(env, 'WORKER_BATCH', 100),
    timerLeaseMs: positiveInt(env, 'WORKER_LEASE_MS', 60_000),
    noticeBatch: positiveInt(env, 'NOTICE_BATCH', 50),
    paymentBatch: positiveInt(env, 'PAYMENT_BATCH', 50),
  };
}

function serviceProcesses(env: NodeJS.ProcessEnv): number {
  const n = env.SERVICE_PROCESSES === 'auto' ? availableParallelism() : positiveInt(env, 'SERVICE_PROCESSES', 1);
  if (n > 1 && !env.DATABASE_URL) throw new Error('SERVICE_PROCESSES above 1 needs DATABASE_URL: the embedded database (PGlite) lives inside one process');
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT || 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${env.PORT}`);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: path.resolve(env.ONEWINDOW_DATA_DIR ?? 'data/pglite'),
    host: env.HOST ?? '127.0.0.1',
    port,
    sessionHours: positiveNumber(env, 'SESSION_HOURS', 12),
    logLevel: env.LOG_LEVEL ?? 'info',
    worker: env.WORKER !== 'off',
    serviceProcesses: serviceProcesses(env),
    fixedNow: fixedNow(env),
    dataKeys: env.ONEWINDOW_DATA_KEYS || undefined,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    connections: {
      maxConnections: positiveInt(env, 'MAX_CONNECTIONS', defaultMaxConnections(descriptorLimit())),
      maxPerAddress: positiveInt(env, 'MAX_CONNECTIONS_PER_ADDRESS', DEFAULT_CONNECTION_LIMITS.maxPerAddress),
      headersTimeoutMs: positiveInt(env, 'HEADERS_TIMEOUT_MS', DEFAULT_CONNECTION_LIMITS.headersTimeoutMs),
      requestTimeoutMs: positiveInt(env, 'REQUEST_TIMEOUT_MS', DEFAULT_CONNECTION_LIMITS.requestTimeoutMs),
    },
    notices: loadNoticeConfig(env, port),
    database: {
      poolMax: positiveInt(env, 'DB_POOL_MAX', 10),
      ...poolerConfig(env),
      // Defaults as DB_TIMEOUTS in src/db/connection.ts.
      statementTimeoutMs: positiveInt(env, 'DB_STATEMENT_TIMEOUT_MS', 10_000),
      idleInTransactionTimeoutMs: positiveInt(env, 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 15_000),
    },
    operations: loadOperationsConfig(env, getHeapStatistics().heap_size_limit),
    payments: loadPaymentConfig(env),
  };
}
