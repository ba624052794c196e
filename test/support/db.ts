import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { inject } from 'vitest';
import { connect, openAppDatabase } from '../../src/db/connection.ts';
import { APP_ROLE } from '../../migrations/20261123_003_trust.ts';
import { withDatabase } from './global-setup.ts';

export interface TestDatabase {
  db: Knex;
  kind: 'postgres' | 'embedded';
  /** Connection string other processes can use (PostgreSQL only). */
  url?: string;
  /** Runs `fn` as the database owner — for tests that play an attacker with direct SQL access. */
  asOwner<T>(fn: (db: Knex) => Promise<T>): Promise<T>;
  destroy(): Promise<void>;
}

/** A fresh, migrated database for one test file: a clone of the template on PostgreSQL, or an in-memory PGlite. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = inject('databaseUrl');
  if (!url) {
    const db = await openAppDatabase({ kind: 'embedded' });
    return {
      db,
      kind: 'embedded',
      destroy: () => db.destroy(),
      // One connection: step out of the application role and back.
      async asOwner(fn) {
        await db.raw('reset role');
        try {
          return await fn(db);
        } finally {
          await db.raw(`set role ${APP_ROLE}`);
        }
      },
    };
  }
  const name = `ow_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name} template ${inject('templateDb')}`);
  const db = connect({ kind: 'postgres', url: withDatabase(url, name), poolMax: 10 }, { role: APP_ROLE });
  return {
    db,
    kind: 'postgres',
    url: withDatabase(url, name),
    async asOwner(fn) {
      const owner = connect({ kind: 'postgres', url: withDatabase(url, name), poolMax: 1 });
      try {
        return await fn(owner);
      } finally {
        await owner.destroy();
      }
    },
    async destroy() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}
