/**
 * Timer firing: throughput for a backlog of due timers with 1, 2 and 4 worker processes (the
 * compiled worker, dist/server/worker.js), SQL round trips and Node CPU per firing, and the lag
 * from due to fired for timers falling due while 1M others wait in the table. The ratio to the
 * HTTP transition rate uses the transitions part's figure of the same run
 * (globalThis.benchHttpTransitionsPerSecond) or BENCH_HTTP_RATE.
 *
 *   BENCH_TIMERS (default 100000, small 1000)    due timers in the throughput backlog
 *   BENCH_PENDING (default 1000000, small 50000) future timers sitting in the table during the lag test
 *   BENCH_LAG_SECONDS (default 20, small 3), BENCH_LAG_RATE (default 100 timers/s)
 *   BENCH_WORKERS (default 1,2,4)
 *
 * Small mode also profiles 500 timers in process instead of 2,000, and spreads the timers over
 * 300 cases instead of 1,000, of which 10 are opened through the engine and the rest copied from
 * them in SQL (growDatabase: same state, live task and event-log shape) instead of all 1,000
 * through the engine.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureServerBuild } from '../scripts/build-server.ts';
import type { Knex } from 'knex';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { TimerWorker } from '../src/worker/timerWorker.ts';
import { benchUrl, freshBenchDatabase, growDatabase, openCases, steps, summarise } from './support.ts';
import { figure } from './summary.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
const TIMERS = Number(process.env.BENCH_TIMERS ?? (SMALL ? 1000 : 100_000));
const PENDING = Number(process.env.BENCH_PENDING ?? (SMALL ? 50_000 : 1_000_000));
const LAG_SECONDS = Number(process.env.BENCH_LAG_SECONDS ?? (SMALL ? 3 : 20));
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
const LAG_RATE = Number(process.env.BENCH_LAG_RATE ?? 100);
const CASES = SMALL ? 300 : 1000;
const PROFILED = SMALL ? 500 : 2000;
// Cases opened through the engine; the rest of CASES are SQL copies of them (small mode only).
const OPENED = SMALL ? 10 : CASES;
const ROOT = path.resolve(import.meta.dirname, '..');

/** Inserts `n` warning timers on the cases' live tasks, due at `dueSql` (an SQL expression of g). */
async function insertTimers(db: Knex, n: number, dueSql: string): Promise<void> {
  await db.raw(
    `insert into timers (case_id, task_id, state_id, kind, event_type, due_at, created_at)
     select t.case_id, t.id, t.state_id, 'warn', 'DEADLINE_WARNING', ${dueSql}, now()
     from generate_series(1, ?) g
     join (select row_number() over () - 1 as i, id, case_id, state_id from tasks where status = 'open') t on t.i = g % ?`,
    [n, CASES],
  );
}

function workerProcess(id: string, now: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/server/worker.js')], {
      env: { ...process.env, DATABASE_URL: benchUrl, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, WORKER_ID: id, WORKER_EXIT_WHEN_IDLE: '1', WORKER_BATCH: '200', ONEWINDOW_NOW: now, NOTICES: 'off' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!).fired) : reject(new Error(`worker ${id} exited ${code}`))));
  });
}

async function throughput(db: Knex, workers: number): Promise<number> {
  await db('timers').delete();
  // Due in the past, spread over the last day so consecutive timers hit different cases.
  await insertTimers(db, TIMERS, `now() - (random() * interval '1 day')`);
  await db.raw('analyze timers');
  const t0 = performance.now();
  const now = new Date().toISOString();
  const fired = await Promise.all(Array.from({ length: workers }, (_, i) => workerProcess(`bench-${workers}-${i}`, now)));
  const seconds = (performance.now() - t0) / 1000;
  const total = fired.reduce((a, b) => a + b, 0);
  const http = Number((globalThis as { benchHttpTransitionsPerSecond?: number }).benchHttpTransitionsPerSecond ?? process.env.BENCH_HTTP_RATE ?? NaN);
  const ratio = Number.isFinite(http) ? `, ${(total / seconds / http).toFixed(2)} × HTTP transitions (${http.toFixed(0)}/s)` : '';
  figure('timers', `${workers} worker${workers > 1 ? 's' : ''} firing`, total / seconds, 'timers/s', undefined, `${TIMERS} due, incl. process start-up`);
  // The goal: one worker fires at least 0.6 × the HTTP transition rate of the same run.
  if (workers === 1 && Number.isFinite(http)) figure('timers', '1 worker / HTTP transitions', total / seconds / http, '×', { op: '>=', value: 0.6 }, `HTTP ${http.toFixed(0)}/s`);
  console.log(`${workers} worker${workers > 1 ? 's' : ' '} firing ${TIMERS} due timers: ${(total / seconds).toFixed(0).padStart(5)} timers/s${ratio} (${total} fired in ${seconds.toFixed(1)} s, incl. process start-up)`);
  return total / seconds;
}

/** In-process: SQL statements (round trips) and Node CPU per firing, one worker, for 2,000 timers (small: 500). */
async function profile(db: Knex): Promise<void> {
  await db('timers').delete();
  const n = Math.min(PROFILED, TIMERS);
  await insertTimers(db, n, `now() - (random() * interval '1 day')`);
  await db.raw('analyze timers');
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  let statements = 0;
  const count = () => statements++;
  db.on('query', count);
  const worker = new TimerWorker({ db, engine, workerId: 'profile', batchSize: 200 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let fired = 0;
  for (;;) {
    const r = await worker.runOnce();
    fired += r.fired + r.moot;
    if (r.claimed === 0) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  db.off('query', count);
  figure('timers', 'SQL statements per firing', statements / fired, '');
  figure('timers', 'Node CPU per firing', (cpu.user + cpu.system) / 1000 / fired, 'ms');
  console.log(`one in-process worker (pool ${(db.client as any).config.pool?.max}, ${worker.concurrency} groups): ${(fired / seconds).toFixed(0)} timers/s, ${(statements / fired).toFixed(1)} SQL statements and ${((cpu.user + cpu.system) / 1000 / fired).toFixed(2)} ms Node CPU per firing`);
}

async function lag(db: Knex): Promise<void> {
  await db('timers').delete();
  await insertTimers(db, PENDING, `now() + interval '30 days' + (g * interval '1 second')`);
  await db.raw('analyze timers');
  const worker = new TimerWorker({ db, engine: createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) }), workerId: 'lag', batchSize: 200, idleMs: 100 });
  worker.start();
  const t0 = performance.now();
  let inserted = 0;
  while (performance.now() - t0 < LAG_SECONDS * 1000) {
    // Timers falling due half a second from now, at a steady rate.
    await insertTimers(db, Math.ceil(LAG_RATE / 10), `now() + interval '500 milliseconds'`);
    inserted += Math.ceil(LAG_RATE / 10);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The last timers fall due 0.5 s after they were inserted; the worker polls every 100 ms.
  await new Promise((r) => setTimeout(r, SMALL ? 1500 : 3000));
  await worker.stop();
  const rows = await db('timers').where({ status: 'fired' }).select(db.raw('extract(epoch from (fired_at - due_at)) * 1000 as lag_ms'));
  const stats = summarise(rows.map((r: any) => Number(r.lag_ms)), LAG_SECONDS);
  figure('timers', `firing lag p99, ${PENDING} pending`, stats.p99, 'ms', { op: '<', value: 1000 }, `${stats.count} of ${inserted} fired`);
  console.log(`firing lag with ${PENDING} pending timers: p50 ${stats.p50.toFixed(0)} ms, p99 ${stats.p99.toFixed(0)} ms (${stats.count} of ${inserted} fired at ${LAG_RATE}/s, poll 100 ms)`);
}

export async function benchTimers(): Promise<void> {
  console.log(`\n## Timers: ${TIMERS} due timers; lag with ${PENDING} pending`);
  const step = steps('timers');
  await ensureServerBuild();
  const db = await freshBenchDatabase();
  try {
    step('fresh database');
    await openCases(db, OPENED);
    if (CASES > OPENED) await growDatabase(CASES - OPENED, { settle: false });
    step(`${CASES} cases (${OPENED} opened through the engine)`);
    await profile(db);
    step('in-process profile');
    for (const w of WORKERS) {
      await throughput(db, w);
      step(`${w} worker(s)`);
    }
    await lag(db);
    step('lag');
  } finally {
    await db.destroy();
  }
}


