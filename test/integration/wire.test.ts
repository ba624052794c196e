import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { writeTogether } from '../../src/db/batch.ts';
import { runTransaction } from '../../src/db/transaction.ts';
import { inline, literal } from '../../src/db/wire.ts';
import { DomainError } from '../../src/engine/errors.ts';
import { useTestApp, applicant, application } from '../support/app.ts';

// src/db/wire.ts on a real server: a transition's BEGIN rides with the case lock and its COMMIT
// with the last write, and none of what made the separate statements safe is lost — values are
// quoted exactly, the version check still undoes the command, a lost connection after COMMIT
// left is "unknown" (503), never run twice. PGlite keeps knex's plain BEGIN/COMMIT.
const onPostgres = Boolean(inject('databaseUrl'));
const ctx = useTestApp();

describe.skipIf(!onPostgres)('the wire: BEGIN and COMMIT in the statements’ round trips', () => {
  let owner: pg.Client;
  beforeAll(async () => {
    owner = new pg.Client({ connectionString: ctx.database.url });
    await owner.connect();
  });
  afterAll(async () => {
    await owner?.end();
  });

  it('sends a transition as three round trips: the session, BEGIN with the lock and tasks, the writes with COMMIT', async () => {
    const clerk = await ctx.as('clerk.xixi');
    const opened = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
    expect(opened.statusCode, opened.body).toBe(201);
    const sent: string[] = [];
    const listen = (q: { sql: string }) => sent.push(q.sql);
    ctx.database.db.on('query', listen);
    const res = await clerk.post(`/api/cases/${opened.json().id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
    ctx.database.db.off('query', listen);
    expect(res.statusCode, res.body).toBe(200);
    // The calendar may be read once per process and region; everything else is these three.
    const trips = sent.filter((s) => !/calendar_/.test(s));
    expect(trips).toHaveLength(3);
    expect(trips[0]).toMatch(/from sessions join users/);
    expect(trips[1]).toMatch(/^BEGIN;\nselect \* from cases where id = '[0-9a-f-]{36}' limit 1 for no key update;\nselect \* from tasks/);
    expect(trips[2]).toMatch(/^with w0 as \(update cases set[\s\S]*;\nCOMMIT;$/);
    // What it committed is all there: the new version, its event, its tasks.
    const row = await ctx.database.db('cases').where({ id: opened.json().id }).first();
    expect(row.version).toBe(2);
    expect(await ctx.database.db('case_events').where({ case_id: row.id, seq: 2 }).first()).toMatchObject({ type: 'ACCEPT' });
  });

  it('quotes every value exactly as pg binds it: quotes, backslashes, placeholders, JSON, arrays, dates, nulls', async () => {
    const hostile = ["o'brien", 'back\\slash \\\' done', 'what? $1 \\? ?', '"; drop table cases; --', '中文，全角？', '\u0000'.slice(1), 'E\'x\''];
    const at = new Date('2026-12-02T03:04:05.678Z');
    const values = [...hostile, 42, -1.5, true, false, null, at, ['a', "b'c", 'd"e'], { k: "v'\\\"", n: [1, 2] }];
    const bound = await ctx.database.db.raw(`select ${values.map(() => '?').join(', ')}`, values as never[]);
    const inlined = await ctx.database.db.raw(inline(`select ${values.map(() => '?').join(', ')}`, values));
    expect(inlined.rows).toEqual(bound.rows);
    expect(literal("a'b")).toBe("'a''b'");
    expect(() => inline('select ?, ?', [1])).toThrow();
  });

  it('undoes the whole statement, COMMIT with it, when the version check inside it fails', async () => {
    const clerk = await ctx.as('clerk.xixi');
    const opened = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
    const caseId = opened.json().id as string;
    const bucket = `wire-${randomUUID()}`;
    const err = await runTransaction(
      ctx.database.db,
      async (trx) => {
        await trx('cases').where({ id: caseId }).forNoKeyUpdate().first();
        return writeTogether(
          trx,
          [
            trx('cases').where({ id: caseId, version: 99 }).update({ updated_at: new Date() }).returning('id'),
            trx('rate_limits').insert({ bucket, hits: 1, window_start: new Date() }),
          ],
          `select ow_expect((select count(*) from w0) = 1, 'VERSION_CONFLICT') as saved`,
          { commit: true },
        );
      },
      { commitWithLastWrite: true },
    ).catch((e) => e);
    expect(err).toMatchObject({ code: 'OW409', message: 'VERSION_CONFLICT' });
    expect(await ctx.database.db('rate_limits').where({ bucket })).toEqual([]);
    // The connection went back to the pool clean: the next transaction works as usual.
    await runTransaction(ctx.database.db, (trx) => trx('rate_limits').insert({ bucket, hits: 2, window_start: new Date() }));
    expect(await ctx.database.db('rate_limits').where({ bucket })).toMatchObject([{ hits: 2 }]);
  });

  it('refuses a statement after COMMIT left, instead of running it outside the transaction', async () => {
    const bucket = `wire-${randomUUID()}`;
    const err = await runTransaction(
      ctx.database.db,
      async (trx) => {
        await writeTogether(trx, [trx('rate_limits').insert({ bucket, hits: 1, window_start: new Date() })], undefined, { commit: true });
        await trx('rate_limits').insert({ bucket, hits: 2, window_start: new Date() });
      },
      { commitWithLastWrite: true },
    ).catch((e) => e);
    expect(String(err)).toMatch(/after the transaction committed/);
    expect(await ctx.database.db('rate_limits').where({ bucket }).select('hits')).toEqual([{ hits: 1 }]);
  });

  it('answers 503 — and does not run the work again — when the connection dies while COMMIT is in flight', async () => {
    const bucket = `wire-${randomUUID()}`;
    let attempts = 0;
    const err = await runTransaction(
      ctx.database.db,
      async (trx) => {
        attempts++;
        const { rows } = await trx.raw('select pg_backend_pid() as pid');
        const pid = rows[0].pid as number;
        // The server is cut off while the committing statement runs (it sleeps to give the cut time).
        setTimeout(() => void owner.query('select pg_terminate_backend($1)', [pid]), 150);
        return writeTogether(trx, [trx('rate_limits').insert({ bucket, hits: attempts, window_start: new Date() }).returning('bucket')], 'select pg_sleep(2), (select bucket from w0)', { commit: true });
      },
      { commitWithLastWrite: true },
    ).catch((e) => e);
    expect(attempts).toBe(1);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('keeps BEGIN and COMMIT as statements of their own where no write says it is the last', async () => {
    const bucket = `wire-${randomUUID()}`;
    const sent: string[] = [];
    const listen = (q: { sql: string }) => sent.push(q.sql);
    ctx.database.db.on('query', listen);
    await runTransaction(ctx.database.db, async (trx) => {
      await writeTogether(trx, [trx('rate_limits').insert({ bucket, hits: 1, window_start: new Date() })], undefined, { commit: true });
      await trx('rate_limits').where({ bucket }).update({ hits: 3 });
    });
    ctx.database.db.off('query', listen);
    expect(sent.map((s) => s.split(/\s/)[0].toUpperCase())).toEqual(['BEGIN;', 'INSERT', 'UPDATE', 'COMMIT;']);
    expect(await ctx.database.db('rate_limits').where({ bucket }).select('hits')).toEqual([{ hits: 3 }]);
  });
});
