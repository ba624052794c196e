import { loadConfig } from '../config.ts';
import { connect, createEmbeddedDataDir, migrateToLatest } from '../db/connection.ts';

const config = loadConfig();
// A first start through this command creates the embedded database as the service would.
if (!config.databaseUrl) await createEmbeddedDataDir(config.dataDir);
const db = connect(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'embedded', dataDir: config.dataDir });
const applied = await migrateToLatest(db);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
await db.destroy();
