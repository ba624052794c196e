/**
 * Node CPU per transition in one process, split by layer — for A/B of changes on the command path,
 * where the saturated HTTP figure moves ±30 % with the machine's neighbours. `process.cpuUsage()`
 * over a warm loop of the bench's own cycle (CYCLE of bench/transitions.ts), 8 callers at a time:
 *   engine   Engine.sendEvent in runTransaction (no HTTP, no session lookup)
 *   inject   POST /api/cases/:id/events through app.inject (fastify, session, validation, serializer)
 *
 *   ROUNDS=5 WARM=2000 npx tsx bench/scale/in-process.ts [transitions per round=1000] [layers=engine,inject]
 */
import { buildApp } from '../../src/http/app.ts';
import { runTransaction } from '../../src/db/transaction.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { demoActor, dropBenchDatabase, freshBenchDatabase, openCases } from '../support.ts';
import { CYCLE } from '../transitions.ts';

const N = Number(process.argv[2] ?? 1000);
const LAYERS = (process.argv[3] ?? 'engine,inject').split(',');
const CALLERS = 8;

const db = await freshBenchDatabase();
const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
const actors = { clerk: await demoActor(db, 'clerk.beishan'), township: await demoActor(db, 'township.beishan'), verify: await demoActor(db, 'verify.xihu') };
const ids = await openCases(db, 64, async (t, id) => {
  await engine.sendEvent(t, actors.clerk, id, { type: 'ACCEPT', data: {} });
  for (const s of CYCLE.slice(1)) await engine.sendEvent(t, actors[s.user], id, { type: s.type, data: s.data });
});
const step = new Map(ids.map((id) => [id, 0]));
const versions = new Map<string, number>((await db('cases').select('id', 'version')).map((r) => [r.id, r.version]));
const app = await buildApp({ db, engine, sessionHours: 8 });
const tokens: Record<string, string> = {};
for (const u of ['township', 'verify'] as const) {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: `${u}.${u === 'verify' ? 'xihu' : 'beishan'}`, password: DEMO_PASSWORD } });
  tokens[u] = res.json().token;
}

async function one(layer: string, id: string) {
  const s = CYCLE[step.get(id)!];
  if (layer === 'engine') {
    await runTransaction(db, (t) => engine.sendEvent(t, actors[s.user], id, { type: s.type, data: s.data }), { commitWithLastWrite: true });
  } else {
    const res = await app.inject({ method: 'POST', url: `/api/cases/${id}/events`, headers: { authorization: `Bearer ${tokens[s.user]}` }, payload: { type: s.type, data: s.data, expectedVersion: versions.get(id) } });
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  }
  step.set(id, (step.get(id)! + 1) % CYCLE.length);
  versions.set(id, versions.get(id)! + 1);
}

async function loop(layer: string, n: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, c) => {
      for (let k = c; ; k += CALLERS) {
        if (next++ >= n) return;
        await one(layer, ids[k % ids.length]);
      }
    }),
  );
}

const ROUNDS = Number(process.env.ROUNDS ?? 5);
for (const layer of LAYERS) {
  await loop(layer, Number(process.env.WARM ?? 2000)); // warm: V8 tiers up
  // Neighbours on shared cores only ever add CPU: the least of several rounds is the steadiest figure.
  const perTransition: { all: number; system: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = process.cpuUsage();
    await loop(layer, N);
    const cpu = process.cpuUsage(cpu0);
    perTransition.push({ all: (cpu.user + cpu.system) / 1000 / N, system: cpu.system / 1000 / N });
  }
  const sorted = [...perTransition].sort((a, b) => a.all - b.all);
  const median = sorted[Math.floor(sorted.length / 2)];
  // The kernel's share (socket writes and reads) apart: it is paid by any client, pgbench's included.
  console.log(`${layer.padEnd(7)} CPU per transition: least ${sorted[0].all.toFixed(3)} ms, median ${median.all.toFixed(3)} ms of which kernel ${median.system.toFixed(3)} ms (${ROUNDS} rounds of ${N})`);
}
await app.close();
await db.destroy();
await dropBenchDatabase();
