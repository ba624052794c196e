import { loadConfig } from '../config.ts';
import { DEMO_PASSWORD, DEMO_USERS, seedDemo } from '../seed.ts';
import { openDatabase } from '../services.ts';

const db = await openDatabase(loadConfig());
await seedDemo(db);
console.log(`demo region 330106 seeded; users (password ${DEMO_PASSWORD}):`);
for (const u of DEMO_USERS) console.log(`  ${u.username.padEnd(18)} ${u.roles.join(',').padEnd(10)} ${u.department.padEnd(24)} ${u.region_code}`);
await db.destroy();
