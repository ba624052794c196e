/**
 * When each statement of one request is sent and answered, relative to the request's start:
 * `BENCH_DB=… npx tsx bench/scale/timeline.ts <user> <url> [poolMax]` (median over 30 requests).
 * Shows statements waiting for a pool connection behind others.
 */
import { buildApp } from '../../src/http/app.ts';
import { connect, migrateToLatest } from '../../src/db/connection.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { benchUrl } from '../support.ts';

const [user, url, pool] = process.argv.slice(2);
const db = connect({ kind: 'postgres', url: benchUrl, poolMax: Number(pool ?? 4) });
await migrateToLatest(db);
const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
const app = await buildApp({ db, engine, sessionHours: 8, limits: { loginPerAddressPerMinute: 1e9 } });
const token = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user, password: DEMO_PASSWORD } })).json().token;
const runs: Array<Array<{ sql: string; sent: number; done: number }>> = [];
let seen: Array<{ uid: string; sql: string; sent: number; done: number }> = [];
let t0 = 0;
db.on('query', (q: any) => seen.push({ uid: q.__knexQueryUid, sql: q.sql.replace(/\s+/g, ' ').slice(0, 60), sent: performance.now() - t0, done: NaN }));
db.on('query-response', (_r: unknown, q: any) => {
  const s = seen.find((x) => x.uid === q.__knexQueryUid);
  if (s) s.done = performance.now() - t0;
});
const totals: number[] = [];
for (let i = 0; i < 40; i++) {
  seen = [];
  t0 = performance.now();
  await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  totals.push(performance.now() - t0);
  if (i >= 10) runs.push(seen);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${url}: median ${med(totals.slice(10)).toFixed(1)} ms`);
for (let k = 0; k < runs[0].length; k++) {
  console.log(`  sent ${med(runs.map((r) => r[k]?.sent ?? NaN)).toFixed(1).padStart(5)}  done ${med(runs.map((r) => r[k]?.done ?? NaN)).toFixed(1).padStart(5)}  ${runs[0][k].sql}`);
}
await app.close();
await db.destroy();
