import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connect } from '../../src/db/connection.ts';
import { runTransaction } from '../../src/db/transaction.ts';
import { DomainError } from '../../src/engine/errors.ts';
import { APP_ROLE } from '../../migrations/20261123_003_trust.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// The transaction runner (src/db/transaction.ts) against a real server: what a dead connection,
// a client that went away and a full pool turn into. PGlite has no connections to cut.
const onPostgres = Boolean(inject('databaseUrl'));
let database: TestDatabase;
let owner: pg.Client;

beforeAll(async () => {
  if (!onPostgres) return;
  database = await createTestDatabase();
  owner = new pg.Client({ connectionString: database.url });
  await owner.connect();
});
afterAll(async () => {
  await owner?.end();
  await database?.destroy();
});

const terminate = (pid: number) => owner.query('select pg_terminate_backend($1)', [pid]);
const bucketRows = (bucket: string) => database.db('rate_limits').where({ bucket });

describe.skipIf(!onPostgres)('transaction runner', () => {
  it('runs a transaction again, once, when its connection died before COMMIT was sent', async () => {
    let attempts = 0;
    const result = await runTransaction(database.db, async (trx) => {
      attempts++;
      await trx('rate_limits').insert({ bucket: 'runner-retry', hits: attempts, window_start: new Date() });
      if (attempts === 1) {
        const { rows } = await trx.raw('select pg_backend_pid() as pid');
        await terminate(rows[0].pid);
        await trx.raw('select 1'); // fails: the connection is gone, the insert with it
      }
      return 'done';
    });
    expect(result).toBe('done');
    expect(attempts).toBe(2);
    expect(await bucketRows('runner-retry')).toMatchObject([{ hits: 2 }]);
  });

  it('answers 503 with Retry-After when the retry fails too, having written nothing', async () => {
    const err = await runTransaction(database.db, async (trx) => {
      await trx('rate_limits').insert({ bucket: 'runner-twice', hits: 1, window_start: new Date() });
      const { rows } = await trx.raw('select pg_backend_pid() as pid');
      await terminate(rows[0].pid);
      await trx.raw('select 1');
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind: 'unavailable', code: 'SERVICE_UNAVAILABLE', details: { retryAfterSeconds: expect.any(Number) } });
    expect(await bucketRows('runner-twice')).toEqual([]);
  });

  it('cancels the running statement on the server when the client goes away, freeing its connection', async () => {
    const gone = new AbortController();
    const t0 = performance.now();
    const running = runTransaction(database.db, (trx) => trx.raw(`select pg_sleep(8), 'client-gone-probe'`)).catch((e) => e);
    const cancelled = runTransaction(database.db, (trx) => trx.raw(`select pg_sleep(8), 'client-gone-probe'`), { signal: gone.signal }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 300));
    gone.abort();
    const err = await cancelled;
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(err).toMatchObject({ kind: 'unavailable', code: 'SERVICE_UNAVAILABLE' });
    const { rows } = await owner.query(`select count(*)::int as n from pg_stat_activity where query like '%client-gone-probe%' and pid <> pg_backend_pid()`);
    expect(rows[0].n).toBe(1); // only the one whose client stayed
    await owner.query(`select pg_cancel_backend(pid) from pg_stat_activity where query like '%client-gone-probe%' and pid <> pg_backend_pid()`);
    await running;
  });

  it('cancels a statement past the deadline', async () => {
    const t0 = performance.now();
    const err = await runTransaction(database.db, (trx) => trx.raw('select pg_sleep(8)'), { deadlineMs: 300 }).catch((e) => e);
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(err).toMatchObject({ kind: 'unavailable', code: 'SERVICE_UNAVAILABLE' });
  });

  it('answers 503 when no pooled connection frees up in time, instead of queueing for a minute', async () => {
    const small = connect({ kind: 'postgres', url: database.url!, poolMax: 1, timeouts: { acquire: 300 } }, { role: APP_ROLE });
    try {
      let release!: () => void;
      const held = runTransaction(small, () => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      const err = await runTransaction(small, (trx) => trx.raw('select 1')).catch((e) => e);
      expect(performance.now() - t0).toBeLessThan(2_000);
      expect(err).toMatchObject({ kind: 'unavailable', code: 'SERVICE_UNAVAILABLE', details: { retryAfterSeconds: expect.any(Number) } });
      release();
      await held;
    } finally {
      await small.destroy();
    }
  });
});
