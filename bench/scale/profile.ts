/**
 * Which statements one request sends and what each costs: `BENCH_DB=… npx tsx bench/scale/profile.ts <user> <url> [--explain]`
 * on a generated database (bench/scale/main.ts). With --explain each is run again under EXPLAIN (ANALYZE, BUFFERS).
 */
import { buildApp } from '../../src/http/app.ts';
import { connect, migrateToLatest } from '../../src/db/connection.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { benchUrl } from '../support.ts';

const [user, url, flag] = process.argv.slice(2);
const db = connect({ kind: 'postgres', url: benchUrl, poolMax: 4 });
await migrateToLatest(db);
if (process.env.ANALYZE) await db.raw('analyze');
const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
const app = await buildApp({ db, engine, sessionHours: 8, limits: { loginPerAddressPerMinute: 1e9 } });
const token = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user, password: DEMO_PASSWORD } })).json().token;
const seen: Array<{ uid: string; sql: string; bindings: unknown[]; t0: number; ms?: number }> = [];
for (let i = 0; i < 5; i++) await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
db.on('query', (q: any) => seen.push({ uid: q.__knexQueryUid, sql: q.sql, bindings: q.bindings ?? [], t0: performance.now() }));
db.on('query-response', (_r: unknown, q: any) => {
  const s = seen.find((x) => x.uid === q.__knexQueryUid);
  if (s) s.ms = performance.now() - s.t0;
});
const t0 = performance.now();
const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
console.log(`${url}: ${res.statusCode}, ${(performance.now() - t0).toFixed(1)} ms, ${res.body.length} bytes`);
db.removeAllListeners('query');
for (const s of seen) {
  console.log(`\n${s.ms?.toFixed(1)} ms  ${s.sql.slice(0, 400)}`);
  if (flag === '--explain') {
    const text = s.sql.replace(/\$(\d+)/g, '?');
    const b = s.sql.match(/\$\d+/) ? [...s.sql.matchAll(/\$(\d+)/g)].map((m) => s.bindings[Number(m[1]) - 1]) : s.bindings;
    const { rows } = await db.raw(`explain (analyze, buffers) ${text.replace(/\?\?/g, '\\?\\?')}`, b as any[]);
    console.log(rows.map((r: any) => r['QUERY PLAN']).join('\n'));
  }
}
await app.close();
await db.destroy();
