import fs from 'node:fs';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { migrationSource } from '../../migrations/index.ts';
import { APP_ROLE } from '../../migrations/20261123_003_trust.ts';

export type Db = Knex | Knex.Transaction;

export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolMax?: number }
  /** Embedded PGlite: `dataDir` on disk, or in memory when undefined. */
  | { kind: 'embedded'; dataDir?: string };

/**
 * One SQL dialect (PostgreSQL) and one code path: the embedded database is PGlite, PostgreSQL
 * compiled to WebAssembly, behind the same Knex API. PGlite is single-connection, so on it
 * transactions queue instead of running concurrently — correctness is unchanged.
 */
export function connect(target: DatabaseTarget, options: { role?: string } = {}): Knex {
  if (target.kind === 'postgres') {
    return knexFactory({
      client: 'pg',
      connection: target.url,
      pool: {
        min: 0,
        max: target.poolMax ?? 10,
        // Every pooled connection acts as the application role (see openAppDatabase).
        ...(options.role
          ? { afterCreate: (conn: any, done: (err: Error | null, conn: unknown) => void) => conn.query(`set role ${options.role}`, (err: Error | null) => done(err, conn)) }
          : {}),
      },
    });
  }
  if (target.dataDir) fs.mkdirSync(target.dataDir, { recursive: true });
  return knexFactory({
    client: ClientPgLite as unknown as Knex.Config['client'],
    dialect: 'postgres',
    connection: target.dataDir ? { filename: target.dataDir } : {},
  } as Knex.Config);
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
    const db = connect(target);
    await migrateToLatest(db);
    await db.raw(`set role ${APP_ROLE}`);
    return db;
  }
  const owner = connect({ ...target, poolMax: 1 });
  try {
    await migrateToLatest(owner);
  } finally {
    await owner.destroy();
  }
  return connect(target, { role: APP_ROLE });
}
