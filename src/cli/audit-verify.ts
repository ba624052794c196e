// npm run audit:verify — recomputes every case's event-log hash chain; exits 1 if any is broken.
import { listEvents } from '../db/caseEvents.ts';
import { verifyChain } from '../engine/audit.ts';
import { loadConfig } from '../config.ts';
import { openDatabase } from '../services.ts';

const db = await openDatabase(loadConfig());
let checked = 0;
let broken = 0;
let after = '00000000-0000-0000-0000-000000000000';
for (;;) {
  const batch = await db('cases').where('id', '>', after).orderBy('id').limit(500).select('id', 'reference', 'chain_head');
  if (batch.length === 0) break;
  for (const c of batch) {
    const result = verifyChain(await listEvents(db, c.id), c.chain_head);
    checked++;
    if (!result.valid) {
      broken++;
      console.log(`BROKEN ${c.reference} (${c.id}): event seq ${result.firstBroken!.seq} id ${result.firstBroken!.id}: ${result.firstBroken!.reason}`);
    }
  }
  after = batch.at(-1).id;
}
console.log(`${checked} cases checked, ${broken} broken chains (SM3)`);
await db.destroy();
process.exit(broken ? 1 : 0);
