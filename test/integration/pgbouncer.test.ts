import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP_ROLE } from '../../migrations/20261123_003_trust.ts';
import { openAppDatabase } from '../../src/db/connection.ts';
import { buildApp } from '../../src/http/app.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { withDatabase } from '../support/global-setup.ts';
import { applicant, application } from '../support/app.ts';

// A province puts PgBouncer in transaction mode between many service nodes and one PostgreSQL
// (docs/scaling.md §3). Here a real PgBouncer (Debian's, installed by .ci/run) pools eight service
// connections onto two server connections, and the service runs with DB_POOLER=transaction: the
// transition's wire format (BEGIN with the lock, COMMIT with the writes), the version check, the
// append-only event log and the timeouts must all hold when no session state survives between
// transactions.
const baseUrl = inject('databaseUrl');
const binary = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => fs.existsSync(p));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited ${child.exitCode}: ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port}: ${log()}`);
}

describe.skipIf(!baseUrl || !binary)('behind PgBouncer in transaction mode (DB_POOLER=transaction)', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `ow_pgb_${suffix}`;
  const service = `ow_svc_${suffix}`;
  const untimed = `ow_untimed_${suffix}`;
  let admin: Knex;
  let ownerUrl: string;
  let bouncer: ChildProcess;
  let dir: string;
  let port: number;
  let db: Knex;
  let app: FastifyInstance;
  const pooled = (user: string) => {
    const u = new URL(withDatabase(baseUrl, database));
    u.username = user;
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  const target = (user: string) => ({ kind: 'postgres' as const, url: pooled(user), poolMax: 8, pooler: 'transaction' as const, migrationUrl: ownerUrl });

  beforeAll(async () => {
    admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${database} template ${inject('templateDb')}`);
    ownerUrl = withDatabase(baseUrl, database);
    // The service's login: a member of the application role (inheriting its rights, nothing more)
    // with its timeouts on the role, as docs/scaling.md §3 tells a DBA to create it.
    await admin.raw(`create role ${service} login in role ${APP_ROLE}`);
    await admin.raw(`alter role ${service} set statement_timeout = '10s'`);
    await admin.raw(`alter role ${service} set lock_timeout = '1s'`);
    await admin.raw(`alter role ${service} set idle_in_transaction_session_timeout = '15s'`);
    await admin.raw(`create role ${untimed} login in role ${APP_ROLE}`);

    const server = new URL(baseUrl);
    const owner = decodeURIComponent(server.username || 'postgres');
    port = await freePort();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ow-pgbouncer-'));
    fs.chmodSync(dir, 0o755); // PgBouncer refuses to run as root: it runs as postgres and reads these
    fs.writeFileSync(path.join(dir, 'users.txt'), [service, untimed, owner].map((u) => `"${u}" ""`).join('\n') + '\n', { mode: 0o644 });
    fs.writeFileSync(
      path.join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `${database} = host=${server.hostname} port=${server.port || 5432} dbname=${database}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${path.join(dir, 'users.txt')}`,
        'pool_mode = transaction',
        'default_pool_size = 2',
        'max_client_conn = 100',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    const ini = path.join(dir, 'pgbouncer.ini');
    bouncer = process.getuid?.() === 0 ? spawn('runuser', ['-u', 'postgres', '--', binary!, ini]) : spawn(binary!, [ini]);
    let log = '';
    bouncer.stdout?.on('data', (d) => (log += d));
    bouncer.stderr?.on('data', (d) => (log += d));
    await waitForPort(port, bouncer, () => log);

    db = await openAppDatabase(target(service));
    await seedDemo(db);
    app = await buildApp({ db, engine: createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) }), sessionHours: 24 });
  });

  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    bouncer?.kill('SIGTERM');
    if (bouncer && bouncer.exitCode === null) await new Promise((r) => bouncer.once('exit', r));
    await admin?.raw(`drop database if exists ${database} with (force)`);
    for (const role of [service, untimed]) await admin?.raw(`drop role if exists ${role}`);
    await admin?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
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
