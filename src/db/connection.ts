import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { migrationSource } from '../../migrations/index.ts';
import { APP_ROLE } from '../../migrations/20261123_003_trust.ts';
import { OneWindowPgClient } from './wire.ts';

export type Db = Knex | Knex.Transaction;

const require = createRequire(import.meta.url);
// The CommonJS build, which knex-pglite itself loads: one copy of PGlite's code in the process.
const PGLITE_ENTRY = require.resolve('@electric-sql/pglite');
const { PGlite } = require(PGLITE_ENTRY) as typeof import('@electric-sql/pglite');

/**
 * PostgreSQL settings of the embedded database, added to PGlite's own start parameters (its
 * `startParams` replaces them, so they are kept). PGlite runs PostgreSQL in this process with its
 * shared memory inside the WebAssembly heap, which never shrinks: initdb's 128 MB of
 * shared_buffers grew that heap to 189 MB, most of it resident. 16 MB holds the demo data's hot
 * pages; what does not fit is read back from the OS page cache (docs/benchmarks.md, "Memory").
 */
export const EMBEDDED_SETTINGS: Record<string, string> = { shared_buffers: '16MB' };
const EMBEDDED_START_PARAMS = [...PGlite.defaultStartParams, ...Object.entries(EMBEDDED_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`])];

export type DatabaseTarget =
  | {
      kind: 'postgres';
      url: string;
      poolMax?: number;
      timeouts?: Partial<DbTimeouts>;
      /**
       * `transaction`: `url` goes through PgBouncer in transaction mode, so no connection keeps
       * session state — the login role itself is the application role's member and carries the
       * timeouts (checked by openAppDatabase); nothing is SET per connection.
       */
      pooler?: 'transaction';
      /** Direct owner connection for migrations (else `url`); required with a transaction pooler. */
      migrationUrl?: string;
    }
  /** Embedded PGlite: `dataDir` on disk, or in memory when undefined. */
  | { kind: 'embedded'; dataDir?: string };

/**
 * Bounds on how long the application's pool waits for anything (milliseconds). Without them one
 * row locked from outside held every pooled connection for as long as the lock lasted, and every
 * other request queued behind them (docs/architecture.md, "Availability").
 */
export interface DbTimeouts {
  /** Longest wait for a pooled connection before answering 503. */
  acquire: number;
  /** Longest wait for any row or table lock (the case lock has its own rule, src/db/cases.ts). */
  lock: number;
  /** Longest single statement. */
  statement: number;
  /** A transaction left idle this long (a stuck client of the pool) is ended by the server, freeing its locks. */
  idleInTransaction: number;
  /** Establishing a new connection. */
  connect: number;
}

export const DB_TIMEOUTS: DbTimeouts = { acquire: 3_000, lock: 1_000, statement: 10_000, idleInTransaction: 15_000, connect: 5_000 };

/**
 * One SQL dialect (PostgreSQL) and one code path: the embedded database is PGlite, PostgreSQL
 * compiled to WebAssembly, behind the same Knex API. PGlite is single-connection, so on it
 * transactions queue instead of running concurrently — correctness is unchanged.
 *
 * The application's pool (`role` given) gets the timeouts of DB_TIMEOUTS as session settings;
 * owner connections (migrations, maintenance) keep the server's defaults, since a migration may
 * rightly wait for a lock.
 */
export function connect(target: DatabaseTarget, options: { role?: string } = {}): Knex {
  if (target.kind === 'postgres') {
    // Unset (undefined) timeouts keep their defaults.
    const t = { ...DB_TIMEOUTS, ...Object.fromEntries(Object.entries(target.timeouts ?? {}).filter(([, v]) => v !== undefined)) } as DbTimeouts;
    const guarded = Boolean(options.role);
    // Behind a transaction pooler a start-up parameter would be refused (PgBouncer knows none of
    // the timeouts) and a SET would stay on a server connection other clients then borrow.
    const sessionState = guarded && target.pooler !== 'transaction';
    return knexFactory({
      // Knex's pg client with BEGIN deferred and COMMIT able to ride with the last write (wire.ts).
      client: OneWindowPgClient as unknown as Knex.Config['client'],
      connection: guarded
        ? {
            connectionString: target.url,
            ...(sessionState ? { statement_timeout: t.statement, lock_timeout: t.lock, idle_in_transaction_session_timeout: t.idleInTransaction } : {}),
            connectionTimeoutMillis: t.connect,
            keepAlive: true,
            application_name: 'onewindow',
          } as Knex.StaticConnectionConfig
        : target.url,
      ...(guarded ? { acquireConnectionTimeout: t.acquire } : {}),
      pool: {
        min: 0,
        max: target.poolMax ?? 10,
        // Every pooled connection acts as the application role (see openAppDatabase).
        ...(sessionState
          ? { afterCreate: (conn: any, done: (err: Error | null, conn: unknown) => void) => conn.query(`set role ${options.role}`, (err: Error | null) => done(err, conn)) }
          : {}),
      },
    });
  }
  if (target.dataDir) fs.mkdirSync(target.dataDir, { recursive: true });
  // knex-pglite takes a constructed PGlite (knex keeps class instances as they are, uncloned).
  const pglite = new PGlite(target.dataDir, { startParams: EMBEDDED_START_PARAMS });
  return knexFactory({
    client: ClientPgLite as unknown as Knex.Config['client'],
    dialect: 'postgres',
    connection: { pglite },
  } as Knex.Config);
}

/** True when `dir` holds no database yet (missing or empty), i.e. PGlite would run initdb in it. */
function needsInitdb(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/**
 * Creates the embedded database in `dataDir` on first start — in a child process. PGlite's initdb
 * runs a second PostgreSQL and the initdb program in WebAssembly beside the service's own: in the
 * service's process that left ~900 MB resident after the first start instead of ~400 MB after a
 * restart (the WebAssembly heaps are not given back). The child builds the database in a sibling
 * directory and it is renamed into place only once complete, so an interrupted first start leaves
 * no half-made database behind. Does nothing when `dataDir` already holds one.
 */
export async function createEmbeddedDataDir(dataDir: string): Promise<void> {
  if (!needsInitdb(dataDir)) return;
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const building = `${dataDir}.initdb-${process.pid}`;
  fs.rmSync(building, { recursive: true, force: true });
  const script = `const { PGlite } = require(process.argv[1]);
PGlite.create(process.argv[2], { startParams: JSON.parse(process.argv[3]) }).then((pg) => pg.close()).then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script, PGLITE_ENTRY, building, JSON.stringify(EMBEDDED_START_PARAMS)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('exit', resolve));
  try {
    if (code !== 0) throw new Error(`creating the embedded database in ${dataDir} failed (exit ${code}): ${stderr.trim()}`);
    // rename(2) replaces an empty directory (connect() or an earlier attempt may have made it).
    fs.renameSync(building, dataDir);
  } catch (err) {
    fs.rmSync(building, { recursive: true, force: true });
    // Another process created the database meanwhile: use that one.
    if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
}

/**
 * Applies pending migrations. Several processes may start at once (service and workers): the
 * one holding Knex's migration lock migrates, the others wait for it and then find nothing to do.
 */
export async function migrateToLatest(db: Knex): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      const [, applied] = await db.migrate.latest({ migrationSource });
      return applied as string[];
    } catch (err) {
      if ((err as Error).name !== 'MigrationLocked' || attempt >= 120) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Migrates as the connecting (owner) user, then hands back a database that acts as the
 * application role — which may append to the event log but never rewrite it. PGlite has one
 * connection, so the role is set on it once.
 */
export async function openAppDatabase(target: DatabaseTarget): Promise<Knex> {
  if (target.kind === 'embedded') {
    if (target.dataDir) await createEmbeddedDataDir(target.dataDir);
    const db = connect(target);
    await migrateToLatest(db);
    await db.raw(`set role ${APP_ROLE}`);
    return db;
  }
  if (target.pooler === 'transaction' && !target.migrationUrl) throw new Error('a transaction pooler needs a direct migration URL (DATABASE_MIGRATION_URL)');
  const owner = connect({ kind: 'postgres', url: target.migrationUrl ?? target.url, poolMax: 1 });
  try {
    await migrateToLatest(owner);
  } finally {
    await owner.destroy();
  }
  const db = connect(target, { role: APP_ROLE });
  if (target.pooler === 'transaction') {
    try {
      await assertPooledLogin(db);
    } catch (err) {
      await db.destroy();
      throw err;
    }
  }
  return db;
}

/**
 * Behind a transaction pooler nothing is SET on a connection, so what SET ROLE and the start-up
 * timeouts guarantee on a direct connection must hold for the login role itself: it acts as the
 * application role (a member that inherits it) and cannot rewrite the event log, and it has
 * statement, lock and idle-in-transaction timeouts (ALTER ROLE … SET). Refuses to start otherwise.
 */
export async function assertPooledLogin(db: Knex): Promise<void> {
  const { rows } = await db.raw(`select current_user as login,
      pg_has_role(current_user, '${APP_ROLE}', 'USAGE') as acts_as_app,
      has_table_privilege(current_user, 'case_events', 'UPDATE') or has_table_privilege(current_user, 'case_events', 'DELETE') as may_rewrite,
      current_setting('statement_timeout') as statement_timeout,
      current_setting('lock_timeout') as lock_timeout,
      current_setting('idle_in_transaction_session_timeout') as idle_in_transaction_session_timeout`);
  const r = rows[0] as Record<string, string | boolean>;
  const problems: string[] = [];
  if (!r.acts_as_app) problems.push(`the login role ${r.login} is not a member of ${APP_ROLE} (CREATE ROLE … LOGIN IN ROLE ${APP_ROLE})`);
  if (r.may_rewrite) problems.push(`the login role ${r.login} may update or delete case_events: log in as a role with only ${APP_ROLE}'s rights, never the owner`);
  for (const name of ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'] as const) {
    if (r[name] === '0') problems.push(`${name} is unset for ${r.login} (ALTER ROLE ${r.login} SET ${name} = …)`);
  }
  if (problems.length) throw new Error(`DB_POOLER=transaction: ${problems.join('; ')} — see docs/scaling.md §3`);
}
