import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { PersonalDataCipher } from './engine/personalData.ts';
import { loadedDefinitions } from '../workflows/index.ts';
import type { Config } from './config.ts';
import { openAppDatabase } from './db/connection.ts';
import { Engine, type EngineOptions } from './engine/engine.ts';
import { ProcedureRegistry } from './engine/registry.ts';
import { validateAll } from './engine/model.ts';

/** config → db (migrated) → engine; shared by the server, the worker and the CLI commands. */
export async function openDatabase(config: Config): Promise<Knex> {
  return openAppDatabase(
    config.databaseUrl
      ? {
          kind: 'postgres',
          url: config.databaseUrl,
          poolMax: config.database.poolMax,
          timeouts: { statement: config.database.statementTimeoutMs, idleInTransaction: config.database.idleInTransactionTimeoutMs },
          ...(config.database.pooler === 'transaction' ? { pooler: 'transaction' as const } : {}),
          migrationUrl: config.database.migrationUrl,
        }
      : { kind: 'embedded', dataDir: config.dataDir },
  );
}

/**
 * The data-encryption keys: ONEWINDOW_DATA_KEYS, or — for the embedded database only — a key
 * generated on first start and kept beside the data folder. A server database needs real keys.
 */
export function loadCipher(config: Config): PersonalDataCipher {
  if (config.dataKeys) return PersonalDataCipher.fromSpec(config.dataKeys);
  if (config.databaseUrl) throw new Error('ONEWINDOW_DATA_KEYS must be set when DATABASE_URL is (see docs/security.md)');
  const file = path.join(path.dirname(config.dataDir), 'data-keys');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `local:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
  return PersonalDataCipher.fromSpec(fs.readFileSync(file, 'utf8').trim());
}

declare const __MODEL_CHECKED_AT_BUILD__: true | undefined;

/** Model-checks every procedure first: the service refuses to start on a broken chart. */
export function createEngine(options: { clock?: () => Date; cipher: PersonalDataCipher; onTransition?: EngineOptions['onTransition'] }): Engine {
  // The production bundle model-checked these very charts when it was built (scripts/build-server.ts
  // fails on a broken chart and defines this constant); anything else checks them here.
  if (typeof __MODEL_CHECKED_AT_BUILD__ === 'undefined') validateAll(loadedDefinitions);
  return new Engine({ registry: new ProcedureRegistry(loadedDefinitions), clock: options.clock, cipher: options.cipher, onTransition: options.onTransition });
}

/** The key of tests and benchmarks, which hold no real personal data (never use it elsewhere). */
export const TEST_DATA_KEYS = `test:${Buffer.alloc(32, 7).toString('base64')}`;
