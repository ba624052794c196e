/**
 * npm run bench — case transitions through the HTTP API against PostgreSQL, next to a raw-SQL
 * ceiling (the same statements one transition needs, from a plain pg client loop).
 *
 *   BENCH_SECONDS (default 15)  duration of each phase
 *   BENCH_CONCURRENCY (default 8) clients in the saturating phases
 *   BENCH_CASES (default 400)   cases the load is spread over
 *   DATABASE_URL                server to use (default postgres://postgres@127.0.0.1:5432/test);
 *                               the bench creates and drops its own database `onewindow_bench`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import knexFactory from 'knex';
import pg from 'pg';
import { connect, migrateToLatest } from '../src/db/connection.ts';
import type { Actor } from '../src/engine/engine.ts';
import { DEMO_PASSWORD, seedDemo } from '../src/seed.ts';
import { createEngine } from '../src/services.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const CASES = Number(process.env.BENCH_CASES ?? 400);
const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BENCH_DB = 'onewindow_bench';
const benchUrl = (() => {
  const u = new URL(baseUrl);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
})();

interface Stats {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

function summarise(latencies: number[], seconds: number, errors: number): Stats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, seconds, perSecond: sorted.length / seconds, p50: at(0.5), p99: at(0.99), errors };
}

const fmt = (s: Stats) =>
  `${s.perSecond.toFixed(0).padStart(6)} transitions/s  p50 ${s.p50.toFixed(1).padStart(6)} ms  p99 ${s.p99.toFixed(1).padStart(6)} ms  (${s.count} in ${s.seconds.toFixed(1)} s, ${s.errors} errors)`;

// The loop every bench case runs: 公示 objection → both investigation branches → 初审 → 公示 again.
// Four transitions, each closing one task and opening others, as real traffic does.
const CYCLE: Array<{ user: 'township' | 'verify'; type: string; data: Record<string, unknown> }> = [
  { user: 'township', type: 'OBJECTION_RAISED', data: { details: '群众异议，重新调查' } },
  { user: 'verify', type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true } },
  { user: 'township', type: 'HOME_VISIT_COMPLETED', data: { visitors: ['甲', '乙'], findings: '属实' } },
  { user: 'township', type: 'PRELIMINARY_APPROVE', data: { proposedMonthlyAmountFen: 90000 } },
];

async function prepare() {
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${BENCH_DB} with (force)`);
  await admin.raw(`create database ${BENCH_DB}`);
  await admin.destroy();
  const db = connect({ kind: 'postgres', url: benchUrl, poolMax: 4 });
  await migrateToLatest(db);
  await seedDemo(db);
  const engine = createEngine();
  const actor = async (username: string): Promise<Actor> => {
    const u = await db('users').where({ username }).first();
    return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
  };
  const [clerk, township, verify] = await Promise.all(['clerk.beishan', 'township.beishan', 'verify.xihu'].map(actor));
  const ids: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const id = await db.transaction(async (t) => {
      const { id } = await engine.openCase(t, clerk, {
        procedureId: 'social-assistance',
        applicant: { name: '测试', idNumber: '11010519491231002X', phone: '13800138000' },
        application: { householdSize: 2, monthlyHouseholdIncomeFen: 100000, reason: '基准测试' },
      });
      for (const [who, type, data] of [
        [clerk, 'ACCEPT', {}],
        [verify, 'VERIFICATION_COMPLETED', CYCLE[1].data],
        [township, 'HOME_VISIT_COMPLETED', CYCLE[2].data],
        [township, 'PRELIMINARY_APPROVE', CYCLE[3].data],
      ] as const) {
        await engine.sendEvent(t, who, id, { type, data });
      }
      return id;
    });
    ids.push(id);
  }
  const versions = new Map<string, number>((await db('cases').select('id', 'version')).map((r) => [r.id, r.version]));
  await db.destroy();
  return { ids, versions };
}

async function startServer(): Promise<{ url: string; stop(): void }> {
  const port = 3900 + Math.floor(Math.random() * 90);
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROFILE] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, DATABASE_URL: benchUrl, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${url}/docs/json`);
      return { url, stop: () => child.kill('SIGTERM') };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error('server did not start');
}

async function login(url: string, username: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: DEMO_PASSWORD }),
  });
  return (await res.json()).token;
}

/** Drives the cycle over HTTP. `ratePerSecond` set → open-loop at that rate; unset → saturate. */
async function httpPhase(url: string, tokens: Record<string, string>, ids: string[], versions: Map<string, number>, step: Map<string, number>, ratePerSecond?: number): Promise<Stats> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  const queue = [...ids];
  const busy = new Set<string>();
  const one = async (id: string) => {
    const s = CYCLE[step.get(id)!];
    const t0 = performance.now();
    const res = await fetch(`${url}/api/cases/${id}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[s.user]}` },
      body: JSON.stringify({ type: s.type, data: s.data, expectedVersion: versions.get(id) }),
    });
    await res.arrayBuffer();
    latencies.push(performance.now() - t0);
    if (res.status !== 200) errors++;
    else {
      versions.set(id, versions.get(id)! + 1);
      step.set(id, (step.get(id)! + 1) % CYCLE.length);
    }
  };
  const nextCase = () => {
    const id = queue.shift()!;
    queue.push(id);
    return id;
  };
  if (!ratePerSecond) {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          const id = nextCase();
          if (busy.has(id)) continue;
          busy.add(id);
          await one(id);
          busy.delete(id);
        }
      }),
    );
  } else {
    const inflight: Promise<void>[] = [];
    const interval = 1000 / ratePerSecond;
    let next = performance.now();
    while (performance.now() < deadline) {
      const id = nextCase();
      if (busy.has(id)) continue;
      busy.add(id);
      inflight.push(one(id).finally(() => busy.delete(id)));
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inflight);
  }
  return summarise(latencies, (performance.now() - started) / 1000, errors);
}

/** The ceiling: one transition's statements, straight from a pg client, no HTTP, no XState. */
async function rawSqlPhase(ids: string[]): Promise<Stats> {
  const pool = new pg.Pool({ connectionString: benchUrl, max: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  let cursor = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      const client = await pool.connect();
      try {
        while (performance.now() < deadline) {
          const id = ids[(cursor++ * CONCURRENCY + worker) % ids.length];
          const t0 = performance.now();
          try {
            await client.query('begin');
            const { rows } = await client.query('select version, snapshot from cases where id = $1 for update', [id]);
            const live = await client.query(`select id, state_id from tasks where case_id = $1 and status in ('open','claimed')`, [id]);
            const v = rows[0].version;
            await client.query('update cases set version = $2, snapshot = $3, state_value = $4, updated_at = now() where id = $1 and version = $5', [id, v + 1, rows[0].snapshot, JSON.stringify('x'), v]);
            await client.query(
              `insert into case_events (case_id, seq, type, payload, to_state, from_state, occurred_at) values ($1, $2, 'BENCH', '{}', '"x"', '"x"', now())`,
              [id, v + 1],
            );
            await client.query(`update tasks set status = 'completed', closed_at = now() where id = $1`, [live.rows[0].id]);
            await client.query(
              `insert into tasks (id, case_id, procedure_id, region_code, state_id, title, department, role, actions, time_limit, status, opened_at)
               values ($1, $2, 'social-assistance', '330106001', $3, 'bench', 'township-civil-affairs', 'reviewer', '{X}', '{}', 'open', now())`,
              [randomUUID(), id, live.rows[0].state_id],
            );
            await client.query('commit');
            latencies.push(performance.now() - t0);
          } catch (e) {
            errors++;
            await client.query('rollback');
          }
        }
      } finally {
        client.release();
      }
    }),
  );
  await pool.end();
  return summarise(latencies, (performance.now() - started) / 1000, errors);
}

async function main() {
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  const pgVersion = await (async () => {
    const c = new pg.Client({ connectionString: baseUrl });
    await c.connect();
    const { rows } = await c.query('show server_version');
    await c.end();
    return rows[0].server_version;
  })();
  console.log(`PostgreSQL ${pgVersion}; ${CASES} cases, ${CONCURRENCY} clients, ${SECONDS} s per phase`);
  const t0 = performance.now();
  const { ids, versions } = await prepare();
  console.log(`prepared ${ids.length} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const server = await startServer();
  try {
    const tokens = { township: await login(server.url, 'township.beishan'), verify: await login(server.url, 'verify.xihu') };
    const step = new Map(ids.map((id) => [id, 0]));
    await httpPhase(server.url, tokens, ids.slice(0, 20), versions, step, 50); // warm-up
    const saturated = await httpPhase(server.url, tokens, ids, versions, step);
    console.log(`HTTP API, saturated    ${fmt(saturated)}`);
    const half = await httpPhase(server.url, tokens, ids, versions, step, saturated.perSecond / 2);
    console.log(`HTTP API, half load    ${fmt(half)}`);
    const ceiling = await rawSqlPhase(ids);
    console.log(`raw SQL ceiling        ${fmt(ceiling)}`);
    console.log(`ratio HTTP / ceiling   ${((saturated.perSecond / ceiling.perSecond) * 100).toFixed(0)}%`);
  } finally {
    server.stop();
  }
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${BENCH_DB} with (force)`);
  await admin.destroy();
}

await main();
