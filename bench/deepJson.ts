/**
 * Deep-JSON denial of service (issue 13 B1): legitimate login latency with the service idle, and
 * while 4 attackers send 80,000-level bodies (160 KB) to the same endpoint as fast as they can.
 * A real listening server on PostgreSQL; the attackers run in a worker thread (their own event
 * loop, as if on another machine — the cores are still shared) from 127.0.0.1, the user from
 * 127.0.0.2. Per-address throttling is switched off so every attack body reaches the parser —
 * the worst case, as if each attacker had many addresses.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { buildApp } from '../src/http/app.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { DEMO_PASSWORD } from '../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { freshBenchDatabase, summarise } from './support.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
// Logins measured idle and under attack: BENCH_DEEP_ROUNDS, default 60, small 20 (warm-up: as many, small 5).
const ROUNDS = Number(process.env.BENCH_DEEP_ROUNDS ?? (SMALL ? 20 : 60));
const WARM_UP = SMALL ? 5 : ROUNDS;
const ATTACKERS = 4;

/** Plain JS for the worker thread: ATTACKERS loops posting the deep body until told to stop. */
const ATTACKER_SOURCE = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const body = '['.repeat(80000) + ']'.repeat(80000);
let stop = false;
parentPort.on('message', () => { stop = true; });
const statuses = {}; const ms = [];
function post(agent) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port: workerData.port, path: '/api/auth/login', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => { statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1; ms.push(performance.now() - t0); resolve(); });
    });
    req.on('error', () => { statuses.error = (statuses.error || 0) + 1; resolve(); });
    req.end(body);
  });
}
Promise.all(Array.from({ length: workerData.attackers }, async () => {
  const agent = new http.Agent({ keepAlive: true, localAddress: '127.0.0.1' });
  while (!stop) await post(agent);
  agent.destroy();
})).then(() => parentPort.postMessage({ statuses, ms }));
`;

function post(port: number, agent: http.Agent, body: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      { host: '127.0.0.1', port, path: '/api/auth/login', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function benchDeepJson(): Promise<void> {
  console.log(`\n## Deep JSON: legitimate login p50, idle vs ${ATTACKERS} attackers sending 80,000-level bodies (${ROUNDS} logins each)`);
  const db = await freshBenchDatabase();
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const app = await buildApp({ db, engine, sessionHours: 1, limits: { loginPerAddressPerMinute: 1e9, loginFailuresPerAddressPerDay: 1e9, loginFailuresPerUsername: 1e9 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const user = new http.Agent({ keepAlive: true, localAddress: '127.0.0.2' });
  const legit = JSON.stringify({ username: 'clerk.beishan', password: DEMO_PASSWORD });
  const logins = async (rounds = ROUNDS) => {
    const ms: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = await post(port, user, legit);
      if (r.status !== 200) throw new Error(`legitimate login answered ${r.status}`);
      ms.push(r.ms);
    }
    return ms;
  };
  try {
    await logins(WARM_UP);
    const t0 = performance.now();
    const idle = summarise(await logins(), (performance.now() - t0) / 1000);

    const worker = new Worker(ATTACKER_SOURCE, { eval: true, workerData: { port, attackers: ATTACKERS } });
    const attackDone = new Promise<{ statuses: Record<string, number>; ms: number[] }>((resolve) => worker.once('message', resolve));
    await new Promise((r) => setTimeout(r, 500)); // let the attack reach full speed
    const t1 = performance.now();
    const attackedSamples = await logins();
    const seconds = (performance.now() - t1) / 1000;
    worker.postMessage('stop');
    const { statuses, ms: attackMs } = await attackDone;
    await worker.terminate();
    const attacked = summarise(attackedSamples, seconds);
    const attack = summarise(attackMs, seconds + 0.5);
    console.log(`idle                 login p50 ${idle.p50.toFixed(1).padStart(6)} ms  p99 ${idle.p99.toFixed(1).padStart(6)} ms`);
    console.log(`under attack         login p50 ${attacked.p50.toFixed(1).padStart(6)} ms  p99 ${attacked.p99.toFixed(1).padStart(6)} ms  (${(attacked.p50 / idle.p50).toFixed(2)}× idle)`);
    console.log(`attack bodies        ${attack.count} in ${seconds.toFixed(1)} s (${attack.perSecond.toFixed(0)}/s), answered p50 ${attack.p50.toFixed(1)} ms; statuses ${Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join(', ')}`);
  } finally {
    user.destroy();
    await app.close();
    await db.destroy();
  }
}
