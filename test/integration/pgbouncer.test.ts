import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openAppDatabase } from '../../src/db/connection.ts';
import { buildApp } from '../../src/http/app.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PGBOUNCER, serviceLoginStatements, startPgBouncer, type PgBouncer } from '../../scripts/pgbouncer.ts';
import { withDatabase } from '../support/global-setup.ts';
import { applicant, application } from '../support/app.ts';

// A province puts PgBouncer in transaction mode between many service nodes and one PostgreSQL
// (docs/scaling.md §3). Here a real PgBouncer (Debian's, installed by .ci/run) pools eight service
// connections onto two server connections, and the service runs with DB_POOLER=transaction: the
// transition's wire format (BEGIN with the lock, COMMIT with the writes), the version check, the
// append-only event log and the timeouts must all hold when no session state survives between
// transactions.
const baseUrl = inject('databaseUrl');

describe.skipIf(!baseUrl || !PGBOUNCER)('behind PgBouncer in transaction mode (DB_POOLER=transaction)', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `ow_pgb_${suffix}`;
  const service = `ow_svc_${suffix}`;
  const untimed = `ow_untimed_${suffix}`;
  let admin: Knex;
  let ownerUrl: string;
  let bouncer: PgBouncer;
  let db: Knex;
  let app: FastifyInstance;
  const pooled = (user: string) => bouncer.urlFor(ownerUrl, user);
  const target = (user: string) => ({ kind: 'postgres' as const, url: pooled(user), poolMax: 8, pooler: 'transaction' as const, migrationUrl: ownerUrl });

  beforeAll(async () => {
    admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${database} template ${inject('templateDb')}`);
    ownerUrl = withDatabase(baseUrl, database);
    for (const sql of [...serviceLoginStatements(service), ...serviceLoginStatements(untimed, { timeouts: false })]) await admin.raw(sql);

    const owner = decodeURIComponent(new URL(baseUrl).username || 'postgres');
    bouncer = await startPgBouncer({ upstreamUrl: baseUrl, database, users: [service, untimed, owner], poolSize: 2 });

    db = await openAppDatabase(target(service));
    await seedDemo(db);
    app = await buildApp({ db, engine: createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) }), sessionHours: 24 });
  });

  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    await bouncer?.stop();
    await admin?.raw(`drop database if exists ${database} with (force)`);
    for (const role of [service, untimed]) await admin?.raw(`drop role if exists ${role}`);
    await admin?.destroy();
  });

  const login = async (username: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } });
    expect(res.statusCode, res.body).toBe(200);
    const headers = { authorization: `Bearer ${res.json().token}` };
    return { post: (url: string, payload: object) => app.inject({ method: 'POST', url, headers, payload }) };
  };

  it('refuses to start as a login that could rewrite the event log, or one without timeouts', async () => {
    const owner = decodeURIComponent(new URL(baseUrl).username || 'postgres');
    await expect(openAppDatabase(target(owner))).rejects.toThrow(/may update or delete case_events/);
    await expect(openAppDatabase(target(untimed))).rejects.toThrow(/statement_timeout is unset.*lock_timeout is unset/);
  });

  it('advances a case through shared server connections: one of concurrent commands wins, the rest get 409', async () => {
    const clerk = await login('clerk.xixi');
    const opened = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
    expect(opened.statusCode, opened.body).toBe(201);
    const id = opened.json().id as string;
    // Eight clients of the service's pool on PgBouncer's two server connections, all at once.
    const answers = await Promise.all(Array.from({ length: 8 }, () => clerk.post(`/api/cases/${id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 })));
    expect(answers.filter((r) => r.statusCode === 200)).toHaveLength(1);
    expect(answers.filter((r) => r.statusCode === 409)).toHaveLength(7);
    const owner = knexFactory({ client: 'pg', connection: ownerUrl, pool: { min: 0, max: 1 } });
    try {
      const row = await owner('cases').where({ id }).first();
      expect(row.version).toBe(2);
      expect((await owner('case_events').where({ case_id: id }).orderBy('seq')).map((e) => e.type)).toEqual(['CASE_OPENED', 'ACCEPT']);
      // PgBouncer really pooled: never more than its two server connections as the service role.
      const { rows } = await owner.raw(`select count(*)::int as n from pg_stat_activity where datname = ? and usename = ?`, [database, service]);
      expect(rows[0].n).toBeLessThanOrEqual(2);
    } finally {
      await owner.destroy();
    }
    // Nothing of the refused commands stayed open on a server connection: the next ones run.
    for (let i = 0; i < 3; i++) {
      const another = await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application });
      expect(another.statusCode, another.body).toBe(201);
      const accepted = await clerk.post(`/api/cases/${another.json().id}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
      expect(accepted.statusCode, accepted.body).toBe(200);
    }
  });

  it('acts as the application role with the role’s timeouts, on every borrowed server connection', async () => {
    await expect(db('case_events').update({ type: 'REWRITTEN' })).rejects.toThrow(/permission denied/);
    const seen = await Promise.all(
      Array.from({ length: 6 }, () => db.transaction(async (trx) => (await trx.raw(`select current_user as u, current_setting('lock_timeout') as l, current_setting('statement_timeout') as s`)).rows[0])),
    );
    for (const r of seen) expect(r).toEqual({ u: service, l: '1s', s: '10s' });
  });
});
