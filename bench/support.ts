import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { connect, migrateToLatest } from '../src/db/connection.ts';
import type { Actor } from '../src/engine/engine.ts';
import { seedDemo } from '../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';

export const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// Unique per run: several bench runs (or helpers) may share one server.
export const BENCH_DB = process.env.BENCH_DB ?? `onewindow_bench_${process.pid}`;
export const benchUrl = (() => {
  const u = new URL(baseUrl);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
})();

export interface Stats {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

export function summarise(samples: number[], seconds: number, errors = 0): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, seconds, perSecond: sorted.length / seconds, p50: at(0.5), p99: at(0.99), errors };
}

/** The middle value (of an even count, the upper of the two middle ones). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const fmt = (s: Stats, unit = 'transitions/s') =>
  `${s.perSecond.toFixed(0).padStart(6)} ${unit}  p50 ${s.p50.toFixed(1).padStart(6)} ms  p99 ${s.p99.toFixed(1).padStart(6)} ms  (${s.count} in ${s.seconds.toFixed(1)} s, ${s.errors} errors)`;

export async function describeMachine(): Promise<string> {
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  const { rows } = await c.query('show server_version');
  await c.end();
  return `machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, PostgreSQL ${rows[0].server_version}`;
}

// Migrated and seeded once per bench process; each part's fresh database is a copy of it.
const TEMPLATE_DB = `${BENCH_DB}_template`;
let templateReady: Promise<void> | undefined;

async function prepareTemplate(): Promise<void> {
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await admin.raw(`create database ${TEMPLATE_DB}`);
  } finally {
    await admin.destroy();
  }
  const u = new URL(baseUrl);
  u.pathname = `/${TEMPLATE_DB}`;
  const db = connect({ kind: 'postgres', url: u.toString(), poolMax: 4 });
  try {
    await migrateToLatest(db);
    await seedDemo(db);
  } finally {
    // A template must have no connections when it is copied.
    await db.destroy();
  }
}

/**
 * A fresh, migrated, seeded bench database. The first call of a process migrates and seeds a
 * template (`<BENCH_DB>_template`); every call then drops the bench database and creates it as a
 * copy of the template — the same contents as migrating and seeding anew, in a fraction of the time.
 */
export async function freshBenchDatabase(): Promise<Knex> {
  templateReady ??= prepareTemplate().catch((err) => {
    templateReady = undefined;
    throw err;
  });
  await templateReady;
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`drop database if exists ${BENCH_DB} with (force)`);
    await admin.raw(`create database ${BENCH_DB} template ${TEMPLATE_DB}`);
  } finally {
    await admin.destroy();
  }
  return connect({ kind: 'postgres', url: benchUrl, poolMax: 4 });
}

/** Drops the bench database and its template. */
export async function dropBenchDatabase(): Promise<void> {
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${BENCH_DB} with (force)`);
  await admin.destroy();
  await dropBenchTemplate();
}

/** Drops the template freshBenchDatabase copies (also when BENCH_REUSE keeps the bench database). */
export async function dropBenchTemplate(): Promise<void> {
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await admin.destroy();
  templateReady = undefined;
}

export async function demoActor(db: Knex, username: string): Promise<Actor> {
  const u = await db('users').where({ username }).first();
  return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
}

/** Opens `n` social-assistance cases through the engine, applying `then` in the same transaction. */
export async function openCases(db: Knex, n: number, then?: (t: Knex.Transaction, id: string) => Promise<void>): Promise<string[]> {
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const clerk = await demoActor(db, 'clerk.beishan');
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await db.transaction(async (t) => {
        const { id } = await engine.openCase(t, clerk, {
          procedureId: 'social-assistance',
          applicant: { name: '测试', idNumber: '11010519491231002X', phone: '13800138000' },
          application: { householdSize: 2, monthlyHouseholdIncomeFen: 100000, reason: '基准测试' },
        });
        await then?.(t, id);
        return id;
      }),
    );
  }
  return ids;
}

/** A tag unique to one growDatabase call, so that a second growth's references never collide with the first's. */
const growthTag = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;

/**
 * Grows the bench database by `n` cases in plain SQL (generate_series, no API): each a copy of a
 * bench case with its own id and reference, one live and one completed task, three pending
 * escalation timers and three cancelled ones, five event-log rows — the shape real traffic
 * leaves behind. Then VACUUM ANALYZE and CHECKPOINT, as autovacuum and time would (only ANALYZE
 * with `settle: false`).
 */
export async function growDatabase(n: number, options: { keepAs?: string; settle?: boolean } = {}): Promise<{ seconds: number; cases: number; pendingTimers: number }> {
  const t0 = performance.now();
  const c = new pg.Client({ connectionString: benchUrl });
  await c.connect();
  try {
    await c.query('begin');
    await c.query(`create temporary table grown on commit drop as
      select gen_random_uuid() as id, gen_random_uuid() as live_task, gen_random_uuid() as done_task, g from generate_series(1, $1::int) g`, [n]);
    await c.query(`insert into cases (id, reference, tracking_code_hash, procedure_id, definition_version, region_code, status, state_value,
        snapshot, version, applicant_name, applicant, application, created_by, created_at, updated_at, due_at, clock_paused_at, deadline_note, chain_head)
      select grown.id, 'GROWN-' || $1 || '-' || grown.g, t.tracking_code_hash, t.procedure_id, t.definition_version, t.region_code, t.status, t.state_value,
        t.snapshot, 5, t.applicant_name, t.applicant, t.application, t.created_by, t.created_at, t.updated_at, t.due_at, null, null, t.chain_head
      from grown, (select * from cases order by created_at limit 1) t`, [growthTag()]);
    await c.query(`insert into tasks (id, case_id, procedure_id, region_code, state_id, title, department, role, actions, time_limit, status,
        opened_at, closed_at, outcome, due_at, warn_at, red_at, escalation)
      select x.task, grown.id, t.procedure_id, t.region_code, t.state_id, t.title, t.department, t.role, t.actions, t.time_limit, x.status,
        t.opened_at, x.closed_at, x.outcome, t.due_at, t.warn_at, t.red_at, 'none'
      from grown
      cross join lateral (values (grown.live_task, 'open', null::timestamptz, null), (grown.done_task, 'completed', now(), 'ACCEPT')) x(task, status, closed_at, outcome),
        (select * from tasks where status = 'open' order by opened_at limit 1) t`);
    await c.query(`insert into timers (case_id, task_id, state_id, kind, event_type, due_at, status, created_at)
      select grown.id, x.task, 'bench', k.kind, k.event, now() + k.after, x.status, now()
      from grown
      cross join lateral (values (grown.live_task, 'pending'), (grown.done_task, 'cancelled')) x(task, status)
      cross join (values ('warn', 'DEADLINE_WARNING', interval '10 days'), ('overdue', 'DEADLINE_OVERDUE', interval '14 days'),
        ('red', 'DEADLINE_RED', interval '17 days')) k(kind, event, after)`);
    await c.query(`insert into case_events (case_id, seq, type, payload, actor_id, actor_name, from_state, to_state, occurred_at, prev_hash, hash)
      select grown.id, s, 'BENCH_GROWN', '{}', null, 'bench', '"x"', '"x"', now(), null, md5(grown.id::text || s)
      from grown, generate_series(1, 5) s`);
    // The new cases' ids, numbered 1..n, for a load that picks cases at random (bench/pgbench/).
    if (options.keepAs) await c.query(`create table ${options.keepAs} (n int primary key, id uuid not null) ; insert into ${options.keepAs} select row_number() over (order by g), id from grown`);
    await c.query('commit');
    // The steady state of a database that size: vacuumed (hint bits, visibility map), statistics
    // current, the bulk load's dirty pages written — not the burst right after a bulk insert.
    // `settle: false` (a few thousand rows of set-up, not a database to measure queries on)
    // only refreshes the statistics.
    if (options.settle === false) await c.query('analyze');
    else {
      await c.query('vacuum analyze');
      await c.query('checkpoint');
    }
    const { rows } = await c.query(`select (select count(*) from cases)::int as cases, (select count(*) from timers where status = 'pending')::int as pending`);
    return { seconds: (performance.now() - t0) / 1000, cases: rows[0].cases, pendingTimers: rows[0].pending };
  } finally {
    await c.end();
  }
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5); here counted from field 3 (state).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/** User and system CPU time of a process so far, in ms: system time is the kernel's (syscalls, wake-ups). */
export function processCpuSplitMs(pid: number): { user: number; sys: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / CLOCK_TICKS, sys: (Number(fields[12]) * 1000) / CLOCK_TICKS };
}

/** Runs pgbench with `args` against the bench database; returns its stdout (tps, latencies). */
export function runPgbench(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', [...args, benchUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`pgbench exited ${code}: ${err.slice(-2000)}`))));
  });
}

/**
 * With BENCH_STEPS=1, prints how long each step of a part took (`steps('timers')` returns a
 * function to call after each step): where a part spends its wall time, to keep small mode small.
 */
export function steps(part: string): (label: string) => void {
  let t = performance.now();
  return (label) => {
    const now = performance.now();
    if (process.env.BENCH_STEPS === '1') console.log(`  [${part}] ${label}: ${((now - t) / 1000).toFixed(1)} s`);
    t = now;
  };
}

export interface DiskProbe {
  count: number;
  p99: number;
  max: number;
  /** fdatasyncs that took over 30 ms: a stall every commit waiting for the WAL flush shares. */
  over30: number;
}

/**
 * fdatasync latency on the database's filesystem while `during` runs: an 8 kB write and
 * fdatasync every 20 ms, from a worker thread so that the load generator's event loop never
 * blocks on it. Next to the service's and pgbench's tail, it says whether the disk stalled (a
 * commit waits for its WAL flush; on this VM's disk a flush has stalled for 100–560 ms). The probe
 * file sits beside PostgreSQL's data directory; without superuser (`show data_directory`) or
 * write access there, no probe (undefined).
 */
export async function withDiskProbe<T>(during: () => Promise<T>): Promise<{ result: T; disk?: DiskProbe }> {
  const dir = await databaseParentDir();
  if (!dir) return { result: await during() };
  const { Worker } = await import('node:worker_threads');
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const fs = require('node:fs');
     const file = workerData.file, stop = workerData.stop, buf = Buffer.alloc(8192, 120), lat = [];
     const fd = fs.openSync(file, 'w', 0o600);
     try {
       while (Atomics.load(stop, 0) === 0) {
         fs.writeSync(fd, buf, 0, buf.length, 0);
         const t = performance.now();
         fs.fdatasyncSync(fd);
         lat.push(performance.now() - t);
         Atomics.wait(stop, 0, 0, 20);
       }
     } finally { fs.closeSync(fd); fs.rmSync(file, { force: true }); }
     parentPort.postMessage(lat);`,
    { eval: true, workerData: { file: `${dir}/onewindow-bench-fsync-${process.pid}.tmp`, stop } },
  );
  const samples = new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  let result: T;
  try {
    result = await during();
  } finally {
    Atomics.store(stop, 0, 1);
    Atomics.notify(stop, 0);
  }
  const lat = await samples;
  await worker.terminate();
  if (!lat.length) return { result };
  const { count, p99 } = summarise(lat, 0);
  return { result, disk: { count, p99, max: Math.max(...lat), over30: lat.filter((x) => x > 30).length } };
}

async function databaseParentDir(): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: benchUrl });
  try {
    await c.connect();
    const dir = (await c.query('show data_directory')).rows[0].data_directory as string;
    const parent = dir.replace(/\/[^/]+\/?$/, '');
    fs.accessSync(parent, fs.constants.W_OK);
    return parent;
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}
