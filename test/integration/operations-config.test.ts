import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadOperationsConfig, loadWorkerConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/services.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// Issue 10: pool size and statement timeouts from the environment (docs/operations.md).
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database?.destroy());

describe('operations configuration', () => {
  it('reads the operations variables, with defaults', () => {
    const defaults = loadOperationsConfig({}, 1_000_000);
    expect(defaults).toEqual({
      metricsToken: undefined,
      readyWorkers: ['timers', 'notices'],
      heartbeatStaleMs: 60_000,
      overload: { maxEventLoopDelayMs: 1_000, maxHeapUsedBytes: 900_000, maxRssBytes: 0, retryAfterSeconds: 10 },
      shutdownTimeoutMs: 25_000,
    });
    const set = loadOperationsConfig({ METRICS_TOKEN: 't', READY_WORKERS: 'none', OVERLOAD_MAX_HEAP_BYTES: '0', OVERLOAD_MAX_RSS_BYTES: '2000000000' }, 1_000_000);
    expect(set).toMatchObject({ metricsToken: 't', readyWorkers: [], overload: { maxHeapUsedBytes: 0, maxRssBytes: 2_000_000_000 } });
    expect(() => loadOperationsConfig({ SHUTDOWN_TIMEOUT_MS: 'soon' }, 1)).toThrow(/SHUTDOWN_TIMEOUT_MS/);
    // A misspelt kind would keep /readyz at 503 forever.
    expect(() => loadOperationsConfig({ READY_WORKERS: 'timer' }, 1)).toThrow(/READY_WORKERS: unknown worker kind timer/);
    expect(loadOperationsConfig({ READY_WORKERS: ' notices ' }, 1).readyWorkers).toEqual(['notices']);
    expect(loadConfig({ DB_POOL_MAX: '4', DB_STATEMENT_TIMEOUT_MS: '1234' }).database).toEqual({ poolMax: 4, statementTimeoutMs: 1234, idleInTransactionTimeoutMs: 15_000, pooler: 'none', migrationUrl: undefined });
    // Behind PgBouncer in transaction mode the owner's direct URL is needed for migrations (docs/scaling.md §3).
    expect(() => loadConfig({ DATABASE_URL: 'postgres://svc@pgbouncer/ow', DB_POOLER: 'transaction' })).toThrow(/DATABASE_MIGRATION_URL/);
    expect(() => loadConfig({ DB_POOLER: 'session' })).toThrow(/DB_POOLER must be none or transaction/);
    expect(loadConfig({ DATABASE_URL: 'postgres://svc@pgbouncer/ow', DB_POOLER: 'transaction', DATABASE_MIGRATION_URL: 'postgres://owner@db/ow' }).database).toMatchObject({ pooler: 'transaction', migrationUrl: 'postgres://owner@db/ow' });
  });

  // A mistyped variable stops the start with its name, instead of a service whose every login
  // (SESSION_HOURS=abc: an invalid expiry) or every command (ONEWINDOW_NOW=abc) answers 500.
  it('refuses a session lifetime, a fixed clock or a worker batch that is not one, naming the variable', () => {
    expect(loadConfig({}).sessionHours).toBe(12);
    expect(loadConfig({ SESSION_HOURS: '0.5' }).sessionHours).toBe(0.5);
    for (const bad of ['abc', '0', '-1', 'Infinity']) expect(() => loadConfig({ SESSION_HOURS: bad })).toThrow(/SESSION_HOURS must be a positive number/);
    expect(loadConfig({ ONEWINDOW_NOW: '2026-03-18T09:30:00+08:00' }).fixedNow).toBe('2026-03-18T09:30:00+08:00');
    expect(() => loadConfig({ ONEWINDOW_NOW: 'tomorrow' })).toThrow(/ONEWINDOW_NOW must be an ISO date-time/);
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
    expect(loadWorkerConfig({})).toEqual({ workerId: undefined, timerBatch: 100, timerLeaseMs: 60_000, noticeBatch: 50, paymentBatch: 50 });
    expect(loadWorkerConfig({ WORKER_ID: 'w2', WORKER_BATCH: '20', NOTICE_BATCH: '4' })).toMatchObject({ workerId: 'w2', timerBatch: 20, noticeBatch: 4 });
    expect(() => loadWorkerConfig({ WORKER_BATCH: 'lots' })).toThrow(/WORKER_BATCH must be a positive integer/);
    expect(() => loadWorkerConfig({ WORKER_LEASE_MS: '0' })).toThrow(/WORKER_LEASE_MS/);
    expect(() => loadWorkerConfig({ PAYMENT_BATCH: '1.5' })).toThrow(/PAYMENT_BATCH/);
  });

  it('sets the pool size, statement_timeout and idle_in_transaction_session_timeout on PostgreSQL connections', async () => {
    if (database.kind !== 'postgres') return; // PGlite: one in-process connection, no server settings
    const db = await openDatabase(loadConfig({ DATABASE_URL: database.url, DB_POOL_MAX: '3', DB_STATEMENT_TIMEOUT_MS: '1234', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '2345' }));
    try {
      const show = async (name: string) => (await db.raw(`show ${name}`)).rows[0][name];
      expect(await show('statement_timeout')).toBe('1234ms');
      expect(await show('idle_in_transaction_session_timeout')).toBe('2345ms');
      expect((db.client as { pool: { max: number } }).pool.max).toBe(3);
      // A statement past the limit is cancelled by the server.
      await expect(db.raw('select pg_sleep(2)')).rejects.toThrow(/statement timeout/);
    } finally {
      await db.destroy();
    }
  });
});
