import { loadConfig } from '../config.ts';
import { connect, migrateToLatest } from '../db/connection.ts';

const config = loadConfig();
const db = connect(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'embedded', dataDir: config.dataDir });
const applied = await migrateToLatest(db);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
await db.destroy();
