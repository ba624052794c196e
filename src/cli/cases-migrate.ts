// npm run cases:migrate -- --procedure social-assistance --from 1 --to 2 [--dry-run] [--batch-size 100]
// Moves running cases to a newer definition version by its declared mapping (docs/versioning.md).
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { loadConfig } from '../config.ts';
import type { Engine } from '../engine/engine.ts';
import { DomainError } from '../engine/errors.ts';
import { MIGRATION_ACTOR, formatReport, migrateDefinition, type MigrationReport } from '../engine/commands/migrateDefinition.ts';
import { createEngine, loadCipher, openDatabase } from '../services.ts';

export const USAGE = 'usage: npm run cases:migrate -- --procedure <id> --from <version> --to <version> [--dry-run] [--batch-size <1-1000>]';

export interface MigrateArgs {
  procedureId: string;
  from: number;
  to: number;
  dryRun: boolean;
  batchSize: number;
}

/** Parses the command line; throws an Error with a message for the operator on anything wrong. */
export function parseArgs(argv: string[]): MigrateArgs {
  const values: Record<string, string> = {};
  let dryRun = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dry-run') dryRun = true;
    else if (['--procedure', '--from', '--to', '--batch-size'].includes(a)) {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      values[a.slice(2)] = v;
    } else throw new Error(`unknown argument: ${a}`);
  }
  for (const k of ['procedure', 'from', 'to']) if (!values[k]) throw new Error(`--${k} is required`);
  const int = (name: string, v: string, min: number, max: number) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
    return Number(v);
  };
  const from = int('from', values.from, 1, 1_000_000);
  const to = int('to', values.to, 1, 1_000_000);
  if (to <= from) throw new Error(`--to (${to}) must be greater than --from (${from}): migrations only go forward`);
  return { procedureId: values.procedure, from, to, dryRun, batchSize: values['batch-size'] ? int('batch-size', values['batch-size'], 1, 1000) : 100 };
}

/** The command without process handling, so tests can run it against their own database. */
export async function run(args: MigrateArgs, deps: { db: Knex; engine: Engine }): Promise<MigrationReport> {
  return migrateDefinition(deps.engine, deps.db, MIGRATION_ACTOR, { ...args, regionPrefix: '' });
}

async function main(): Promise<number> {
  let args: MigrateArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`cases:migrate: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const engine = createEngine({ cipher: loadCipher(config) });
    const report = await run(args, { db, engine });
    console.log(formatReport(report));
    // Refused or busy cases are not a failure: they are listed, and stay on their version.
    return 0;
  } catch (err) {
    if (err instanceof DomainError) {
      console.error(`cases:migrate: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    await db.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(await main());
