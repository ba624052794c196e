import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadOperationsConfig } from '../../src/config.ts';
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
    expect(loadConfig({ DB_POOL_MAX: '4', DB_STATEMENT_TIMEOUT_MS: '1234' }).database).toEqual({ poolMax: 4, statementTimeoutMs: 1234, idleInTransactionTimeoutMs: 15_000, pooler: 'none', migrationUrl: undefined });
    // Behind PgBouncer in transaction mode the owner's direct URL is needed for migrations (docs/scaling.md §3).
    expect(() => loadConfig({ DATABASE_URL: 'postgres://svc@pgbouncer/ow', DB_POOLER: 'transaction' })).toThrow(/DATABASE_MIGRATION_URL/);
    expect(() => loadConfig({ DB_POOLER: 'session' })).toThrow(/DB_POOLER must be none or transaction/);
    expect(loadConfig({ DATABASE_URL: 'postgres://svc@pgbouncer/ow', DB_POOLER: 'transaction', DATABASE_MIGRATION_URL: 'postgres://owner@db/ow' }).database).toMatchObject({ pooler: 'transaction', migrationUrl: 'postgres://owner@db/ow' });
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
