import type { Knex } from 'knex';
import { procedureDefinitions } from '../workflows/index.ts';
import type { Config } from './config.ts';
import { connect, migrateToLatest } from './db/connection.ts';
import { Engine } from './engine/engine.ts';
import { ProcedureRegistry } from './engine/registry.ts';
import { validateAll } from './engine/model.ts';

/** config → db (migrated) → engine; shared by the server, the worker and the CLI commands. */
export async function openDatabase(config: Config): Promise<Knex> {
  const db = connect(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'embedded', dataDir: config.dataDir });
  await migrateToLatest(db);
  return db;
}

/** Model-checks every procedure first: the service refuses to start on a broken chart. */
export function createEngine(clock?: () => Date): Engine {
  validateAll(procedureDefinitions);
  return new Engine({ registry: new ProcedureRegistry(procedureDefinitions), clock });
}
