import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { inject } from 'vitest';
import { connect, migrateToLatest } from '../../src/db/connection.ts';
import { TEMPLATE_DB, withDatabase } from './global-setup.ts';

export interface TestDatabase {
  db: Knex;
  kind: 'postgres' | 'embedded';
  /** Connection string other processes can use (PostgreSQL only). */
  url?: string;
  destroy(): Promise<void>;
}

/** A fresh, migrated database for one test file: a clone of the template on PostgreSQL, or an in-memory PGlite. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = inject('databaseUrl');
  if (!url) {
    const db = connect({ kind: 'embedded' });
    await migrateToLatest(db);
    return { db, kind: 'embedded', destroy: () => db.destroy() };
  }
  const name = `ow_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name} template ${TEMPLATE_DB}`);
  const db = connect({ kind: 'postgres', url: withDatabase(url, name), poolMax: 10 });
  return {
    db,
    kind: 'postgres',
    url: withDatabase(url, name),
    async destroy() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}
