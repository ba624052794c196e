/**
 * Case transitions through the HTTP API against PostgreSQL, next to a raw-SQL ceiling: the
 * statements one transition needs (lock the case, read its live tasks, update it, append an
 * event, close a task and cancel its timers, open a task with its three escalation timers),
 * from a plain pg client loop.
 *
 * The real ceiling is pgbench running bench/pgbench/transition.sql — the engine's own statements
 * for one transition, as captured from knex — with the same 8 clients on the bench's database.
 *
 *   BENCH_SCALE=small           2 s phases, 100 cases (200 for pgbench), no growth, no raw-SQL loop
 *   BENCH_SECONDS (default 15)  duration of each phase
 *   BENCH_CONCURRENCY (default 8) clients in the saturating phases
 *   BENCH_CASES (default 400)   cases the load is spread over
 *   BENCH_GROW (default 100000) cases added in SQL before the same load runs again (0: skip)
 *   BENCH_WITHOUT_INDEX=1       then once more without timers_pending_by_task (migration 005)
 *   BENCH_ROUNDS (default 3, small 1)      alternating HTTP/pgbench rounds; the ratio is of their medians
 *   BENCH_WARM_SECONDS (default 5, small 2) saturated warm-up before measuring
 *   BENCH_TWO_PROCESSES=1       small mode too: the SERVICE_PROCESSES=2 phase (full mode always runs it)
 *   BENCH_PGBOUNCER=1           small mode too: the PgBouncer phase (full mode runs it where pgbouncer is installed)
 *   DATABASE_URL                server to use (default postgres://postgres@127.0.0.1:5432/test);
 *                               the bench creates and drops its own database `onewindow_bench_<pid>`.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Knex } from 'knex';
import { APP_ROLE } from '../migrations/20261123_003_trust.ts';
import { connect } from '../src/db/connection.ts';
import { buildApp } from '../src/http/app.ts';
import { DEMO_PASSWORD } from '../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { LeanHttp } from './leanHttp.ts';
import { PGBOUNCER, serviceLoginStatements, startPgBouncer } from '../scripts/pgbouncer.ts';
import { figure } from './summary.ts';
import { benchUrl, demoActor, fmt, freshBenchDatabase, median, growDatabase, openCases, processCpuMs, processCpuSplitMs, runPgbench, summarise, withDiskProbe, type DiskProbe, type Stats } from './support.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
const SECONDS = Number(process.env.BENCH_SECONDS ?? (SMALL ? 2 : 15));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const CASES = Number(process.env.BENCH_CASES ?? (SMALL ? 100 : 400));
const GROW = Number(process.env.BENCH_GROW ?? (SMALL ? 0 : 100_000));
/** Cases the pgbench ceiling spreads its load over: copies of a bench case, one live task each. */
const CEILING_CASES = Math.max(CASES, SMALL ? 200 : 400);
/**
 * Rounds of (HTTP saturated, pgbench) taken in turn: on shared cores a single phase can be 40 %
 * off, so the ratio is the median HTTP rate over the median ceiling, both from the same minutes.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (SMALL ? 1 : 3));
/** Saturated warm-up before any measured phase: V8 tiers up and the heap sizes itself under real load. */
const WARM_SECONDS = Number(process.env.BENCH_WARM_SECONDS ?? (SMALL ? 2 : 5));

// The loop every bench case runs: 公示 objection → both investigation branches → 初审 → 公示 again.
// Four transitions, each closing one task and opening others, as real traffic does.
export const CYCLE: Array<{ user: 'township' | 'verify'; type: string; data: Record<string, unknown> }> = [
  { user: 'township', type: 'OBJECTION_RAISED', data: { details: '群众异议，重新调查' } },
  { user: 'verify', type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true } },
  { user: 'township', type: 'HOME_VISIT_COMPLETED', data: { visitors: ['甲', '乙'], findings: '属实' } },
  { user: 'township', type: 'PRELIMINARY_APPROVE', data: { proposedMonthlyAmountFen: 90000 } },
];

async function prepare() {
  const db = await freshBenchDatabase();
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const [clerk, township, verify] = await Promise.all(['clerk.beishan', 'township.beishan', 'verify.xihu'].map((u) => demoActor(db, u)));
  const toPublicity = async (t: Knex.Transaction, id: string) => {
    for (const [who, type, data] of [
      [clerk, 'ACCEPT', {}],
      [verify, 'VERIFICATION_COMPLETED', CYCLE[1].data],
      [township, 'HOME_VISIT_COMPLETED', CYCLE[2].data],
      [township, 'PRELIMINARY_APPROVE', CYCLE[3].data],
    ] as const) {
      await engine.sendEvent(t, who, id, { type, data });
    }
  };
  // Four at a time, on the pool's four connections: the bench's set-up, not a figure.
  const ids = (await Promise.all([0, 1, 2, 3].map((k) => openCases(db, Math.floor(CASES / 4) + (k < CASES % 4 ? 1 : 0), toPublicity)))).flat();
  const versions = new Map<string, number>((await db('cases').select('id', 'version')).map((r) => [r.id, r.version]));
  await db.destroy();
  return { ids, versions };
}

/** The compiled service, as `npm start` runs it: a TypeScript loader in the process would cost CPU the figure is about. */
function ensureServerBuild(): void {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/prestart.mjs', import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building dist/server failed');
}

async function startServer(env: Record<string, string> = {}): Promise<{ url: string; pid: number; stop(): void }> {
  ensureServerBuild();
  const port = 3900 + Math.floor(Math.random() * 90);
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROFILE] : [];
  const child = spawn(process.execPath, [...profile, fileURLToPath(new URL('../dist/server/main.js', import.meta.url))], {
    env: { ...process.env, DATABASE_URL: benchUrl, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, PORT: String(port), LOG_LEVEL: 'warn', WORKER: 'off', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${url}/docs/json`);
      // A later service may get this port again: its keep-alive sockets must go with it.
      const stop = () => {
        child.kill('SIGTERM');
        clients.get(new URL(url).origin)?.close();
        clients.delete(new URL(url).origin);
      };
      return { url, pid: child.pid!, stop };
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
  return ((await res.json()) as { token: string }).token;
}

// The load generator shares the machine's cores with the service and PostgreSQL (pgbench's client
// is C): a lean keep-alive client over plain sockets (bench/leanHttp.ts) costs it a fraction of
// node:http's client, which cost about a third of fetch().
const clients = new Map<string, LeanHttp>();

function post(url: string, token: string, body: string): Promise<number> {
  const u = new URL(url);
  let client = clients.get(u.origin);
  if (!client) clients.set(u.origin, (client = new LeanHttp(u.origin)));
  return client.post(u.pathname, { authorization: `Bearer ${token}` }, body);
}

/**
 * CPU time (ms) of each live backend connected to the bench database only, by pid — what the
 * service's (or the bare-Node reference's) pooled connections cost the server, whatever else the
 * machine runs. Pooled backends live across a phase, so the difference over it is exact.
 */
function benchBackendsCpuMs(): Map<string, number> {
  const name = new URL(benchUrl).pathname.slice(1);
  const byPid = new Map<string, number>();
  cpuOfProcesses('postgres', (pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(' ').includes(name), {}, byPid);
  return byPid;
}

/**
 * What the bench database's backends alive at the end used since `before`: a backend that exited
 * meanwhile (another pool's idle connection) drops out instead of taking its whole past CPU with
 * it — the bare-Node phase once read −2.61 ms per transition so.
 */
function backendsCpuSince(before: Map<string, number>): number {
  let total = 0;
  for (const [pid, ms] of benchBackendsCpuMs()) total += ms - (before.get(pid) ?? 0);
  return total;
}

/**
 * CPU time (ms) PostgreSQL has used on this machine: every live server process, plus what the
 * postmaster collected from backends that exited (pgbench's connections end with its run).
 */
function postgresCpuMs(): number {
  return cpuOfProcesses('postgres', () => true, { children: true });
}

/**
 * User + system CPU (ms) of the live processes named `comm` that `match` accepts; `children`:
 * plus what they collected from children that exited (cutime, cstime).
 */
function cpuOfProcesses(comm: string, match: (pid: string) => boolean, options: { children?: boolean } = {}, byPid?: Map<string, number>): number {
  let total = 0;
  for (const pid of processesNamed(comm)) {
    try {
      if (!match(pid)) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime (, cutime, cstime): fields 14–17 of stat(5), here counted from field 3.
      const ticks = Number(f[11]) + Number(f[12]) + (options.children ? Number(f[13]) + Number(f[14]) : 0);
      total += (ticks * 1000) / 100;
      byPid?.set(pid, (ticks * 1000) / 100);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

type GcPauses = { count: number; sumMs: number; within10ms: number };

/**
 * The service's own view of a phase, from its GET /metrics (prom-client's default metrics):
 * event-loop delay since the previous scrape (prom-client resets it on every scrape) and its
 * garbage-collection pauses so far by kind, with how many took over 10 ms (the histogram's
 * bucket). Read before and after the half-load phase, it tells whether the service's tail is its
 * own stalls or waiting for the database.
 */
async function serviceLoop(url: string): Promise<{ lagP99Ms: number; lagMaxMs: number; gc: Map<string, GcPauses> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^onewindow_${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  const gc = new Map<string, GcPauses>();
  const of = (kind: string) => gc.get(kind) ?? gc.set(kind, { count: 0, sumMs: 0, within10ms: 0 }).get(kind)!;
  for (const m of text.matchAll(/^onewindow_nodejs_gc_duration_seconds_(bucket|sum|count)\{([^}]*)\} ([\d.e+-]+)$/gm)) {
    const kind = /kind="([^"]+)"/.exec(m[2])?.[1] ?? '?';
    if (m[1] === 'count') of(kind).count = Number(m[3]);
    else if (m[1] === 'sum') of(kind).sumMs = Number(m[3]) * 1000;
    else if (/le="0.01"/.test(m[2])) of(kind).within10ms = Number(m[3]);
  }
  return { lagP99Ms: value('nodejs_eventloop_lag_p99_seconds'), lagMaxMs: value('nodejs_eventloop_lag_max_seconds'), gc };
}

function diskReport(disk: DiskProbe | undefined): string {
  if (!disk) return 'no probe (the data directory is not writable from here)';
  return `fdatasync beside the data directory every 20 ms: p99 ${disk.p99.toFixed(1)} ms, max ${disk.max.toFixed(0)} ms, ${disk.over30} of ${disk.count} over 30 ms`;
}

function loopReport(before: Awaited<ReturnType<typeof serviceLoop>>, after: Awaited<ReturnType<typeof serviceLoop>>): string {
  const kinds = [...after.gc].map(([kind, g]) => {
    const b = before.gc.get(kind) ?? { count: 0, sumMs: 0, within10ms: 0 };
    const over10ms = g.count - g.within10ms - (b.count - b.within10ms);
    return `${kind} ${g.count - b.count} (${(g.sumMs - b.sumMs).toFixed(0)} ms, ${over10ms} over 10 ms)`;
  });
  return `event-loop delay p99 ${after.lagP99Ms.toFixed(1)} ms, max ${after.lagMaxMs.toFixed(1)} ms; GC pauses ${kinds.join(', ')}`;
}

/** Drives the cycle over HTTP. `ratePerSecond` set → open-loop at that rate; unset → saturate. */
async function httpPhase(url: string, tokens: Record<string, string>, ids: string[], versions: Map<string, number>, step: Map<string, number>, ratePerSecond?: number, seconds = SECONDS): Promise<Stats> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const queue = [...ids];
  const busy = new Set<string>();
  const one = async (id: string) => {
    const s = CYCLE[step.get(id)!];
    const t0 = performance.now();
    const status = await post(`${url}/api/cases/${id}/events`, tokens[s.user], JSON.stringify({ type: s.type, data: s.data, expectedVersion: versions.get(id) }));
    latencies.push(performance.now() - t0);
    if (status !== 200) errors++;
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

/** One transition's statements straight from a pg client loop (no HTTP, no XState): a round trip per statement from JavaScript, so not the ceiling. */
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
            await client.query(`update timers set status = 'cancelled' where task_id = $1 and status = 'pending'`, [live.rows[0].id]);
            const taskId = randomUUID();
            await client.query(
              `insert into tasks (id, case_id, procedure_id, region_code, state_id, title, department, role, actions, time_limit, status, opened_at, due_at)
               values ($1, $2, 'social-assistance', '330106001', $3, 'bench', 'township-civil-affairs', 'reviewer', '{X}', '{}', 'open', now(), now() + interval '14 days')`,
              [taskId, id, live.rows[0].state_id],
            );
            await client.query(
              `insert into timers (case_id, task_id, state_id, kind, event_type, due_at, created_at)
               values ($1, $2, $3, 'warn', 'DEADLINE_WARNING', now() + interval '10 days', now()),
                      ($1, $2, $3, 'overdue', 'DEADLINE_OVERDUE', now() + interval '14 days', now()),
                      ($1, $2, $3, 'red', 'DEADLINE_RED', now() + interval '17 days', now())`,
              [id, taskId, live.rows[0].state_id],
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

/**
 * The statements behind each HTTP transition: the same app in this process (buildApp, as
 * src/main.ts builds it), knex's 'query' events counted over whole cycles on `sample` cases.
 * Round trips include BEGIN and COMMIT, which knex sends as statements of their own.
 */
async function captureStatements(ids: string[], versions: Map<string, number>, step: Map<string, number>): Promise<{ perTransition: number; roundTrips: number; texts: Map<string, number> }> {
  const db = connect({ kind: 'postgres', url: benchUrl, poolMax: 2 }, { role: APP_ROLE });
  const app = await buildApp({ db, engine: createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) }), sessionHours: 1 });
  try {
    const token = async (username: string) =>
      (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } })).json().token as string;
    const tokens = { township: await token('township.beishan'), verify: await token('verify.xihu') };
    const texts = new Map<string, number>();
    let all = 0;
    db.on('query', (q: { sql: string }) => {
      all++;
      texts.set(q.sql, (texts.get(q.sql) ?? 0) + 1);
    });
    let transitions = 0;
    for (const id of ids) {
      for (let i = 0; i < CYCLE.length; i++) {
        const s = CYCLE[step.get(id)!];
        const res = await app.inject({
          method: 'POST',
          url: `/api/cases/${id}/events`,
          headers: { authorization: `Bearer ${tokens[s.user]}` },
          payload: { type: s.type, data: s.data, expectedVersion: versions.get(id) },
        });
        if (res.statusCode !== 200) throw new Error(`capture: ${res.statusCode} ${res.body}`);
        versions.set(id, versions.get(id)! + 1);
        step.set(id, (step.get(id)! + 1) % CYCLE.length);
        transitions++;
      }
    }
    const control = [...texts].filter(([sql]) => /^(BEGIN|COMMIT|ROLLBACK)/i.test(sql)).reduce((n, [, c]) => n + c, 0);
    return { perTransition: (all - control) / transitions, roundTrips: all / transitions, texts };
  } finally {
    await app.close();
    await db.destroy();
  }
}

/** The township reviewer's latest session (the HTTP phases logged in): pgbench and bare Node act as it. */
async function benchSession(): Promise<{ token_hash: string; user_id: string }> {
  const c = new pg.Client({ connectionString: benchUrl });
  await c.connect();
  try {
    const { rows } = await c.query(`select s.token_hash, s.user_id from sessions s join users u on u.id = s.user_id where u.username = 'township.beishan' order by s.expires_at desc limit 1`);
    return rows[0];
  } finally {
    await c.end();
  }
}

/**
 * Waits (up to 3 s) until pgbench's backends have exited: their CPU reaches the postmaster's
 * collected total only once they are reaped, and reading it at once left a round's own backends
 * out of its figure (the first round read ~0.5 ms per transition, the next ones paid for it).
 */
async function pgbenchBackendsGone(): Promise<void> {
  const c = new pg.Client({ connectionString: benchUrl });
  await c.connect();
  try {
    for (let i = 0; i < 30; i++) {
      const { rows } = await c.query(`select count(*)::int as n from pg_stat_activity where application_name = 'pgbench'`);
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // pg_stat_activity forgets a backend as it exits, a moment before the postmaster reaps it.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await c.end();
  }
}

/**
 * pgbench on bench/pgbench/transition.sql: the engine's statements without Node, 8 clients.
 * With `ratePerSecond`, pgbench paces its transactions (`-R`) and logs each one (`-l`), so that
 * the half-load p99 of the service can be set beside the database's own p99 at the same rate:
 * the part of the tail that commits and checkpoints on this disk pay whoever the client is.
 */
async function pgbenchPhase(ratePerSecond?: number): Promise<{ perSecond: number; latencyMs: number; text: string; latencies?: Stats }> {
  const session = await benchSession();
  const script = process.env.BENCH_PGBENCH_SCRIPT ?? 'transition';
  const logDir = ratePerSecond ? fs.mkdtempSync(`${os.tmpdir()}/onewindow-pgbench-`) : undefined;
  try {
    const out = await runPgbench([
      // transition.sql is what the engine sends since db/wire.ts: simple queries; the older scripts, extended.
      '-n', '-M', script === 'transition' ? 'simple' : 'extended', '-c', String(CONCURRENCY), '-j', '2', '-T', String(SECONDS),
      ...(ratePerSecond ? ['-R', ratePerSecond.toFixed(1), '-l', '--log-prefix', `${logDir}/tx`] : []),
      '-D', `ncases=${CEILING_CASES}`, '-D', `token=${session.token_hash}`, '-D', `actor=${session.user_id}`,
      // BENCH_PGBENCH_SCRIPT=transition-per-statement: the statements as the engine sent them before
      // issue 11; =transition-before-wire: six round trips, before BEGIN and COMMIT rode with others.
      '-f', fileURLToPath(new URL(`./pgbench/${script}.sql`, import.meta.url)),
    ]);
    const tps = /tps = ([\d.]+)/.exec(out);
    const latency = /latency average = ([\d.]+) ms/.exec(out);
    if (!tps) throw new Error(`pgbench printed no tps:\n${out}`);
    let latencies: Stats | undefined;
    if (logDir) {
      // Per transaction: client, number, latency µs, script, epoch s, µs[, schedule lag µs]. With -R
      // the latency counts from the scheduled start; the lag is taken off, as the service's load
      // generator times each request from when it is sent.
      const samples: number[] = [];
      for (const f of fs.readdirSync(logDir)) {
        for (const line of fs.readFileSync(`${logDir}/${f}`, 'utf8').split('\n')) {
          const cols = line.trim().split(/\s+/);
          if (cols.length < 6) continue;
          samples.push((Number(cols[2]) - Number(cols[6] ?? 0)) / 1000);
        }
      }
      latencies = summarise(samples, SECONDS);
    }
    return { perSecond: Number(tps[1]), latencyMs: Number(latency?.[1] ?? NaN), text: out, latencies };
  } finally {
    if (logDir) fs.rmSync(logDir, { recursive: true, force: true });
  }
}

/**
 * bench/scale/bare-node.mjs — node:http + pg making pgbench's three round trips, no framework or
 * engine — saturated by the same load generator as the service: what any Node HTTP service pays
 * on this machine, so the gap to pgbench splits into that and what OneWindow's code adds.
 */
async function bareNodePhase(): Promise<{ stats: Stats; cpuPer: number; sysPer: number; pgPer: number }> {
  const session = await benchSession();
  const port = 3990 + Math.floor(Math.random() * 9);
  const child = spawn(process.execPath, [fileURLToPath(new URL('./scale/bare-node.mjs', import.meta.url))], {
    env: { ...process.env, DATABASE_URL: benchUrl, PORT: String(port), POOL: String(CONCURRENCY), TOKEN_HASH: session.token_hash, ACTOR: session.user_id },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`bare-node exited ${code}`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const body = JSON.stringify({ type: CYCLE[2].type, data: CYCLE[2].data });
    const run = async (seconds: number) => {
      const latencies: number[] = [];
      let errors = 0;
      const started = performance.now();
      const deadline = started + seconds * 1000;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < deadline) {
            const t0 = performance.now();
            const status = await post(`${url}/cases/${1 + Math.floor(Math.random() * CEILING_CASES)}`, 'bare', body);
            latencies.push(performance.now() - t0);
            if (status !== 200) errors++;
          }
        }),
      );
      return summarise(latencies, (performance.now() - started) / 1000, errors);
    };
    await run(1); // warm-up
    const cpu0 = processCpuMs(child.pid!);
    const sys0 = processCpuSplitMs(child.pid!).sys;
    const pg0 = benchBackendsCpuMs();
    const stats = await run(SECONDS);
    const n = Math.max(1, stats.count);
    return { stats, cpuPer: (processCpuMs(child.pid!) - cpu0) / n, sysPer: (processCpuSplitMs(child.pid!).sys - sys0) / n, pgPer: backendsCpuSince(pg0) / n };
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * The service as a cluster of two processes on one port (SERVICE_PROCESSES=2, src/cluster.ts),
 * each with a pool of CONCURRENCY / 2 connections (the same 8 to PostgreSQL in all): does a second
 * process turn the cores' idle time into transitions? One Node process runs its JavaScript on one
 * core, and PostgreSQL's backends wait on it between round trips. The load generator opens its
 * keep-alive connections once; the primary hands them to the processes in turn.
 */
async function twoProcessesPhase(tokens: Record<string, string>, ids: string[], versions: Map<string, number>, step: Map<string, number>) {
  const server = await startServer({ SERVICE_PROCESSES: '2', DB_POOL_MAX: String(Math.max(1, Math.ceil(CONCURRENCY / 2))) });
  try {
    await httpPhase(server.url, tokens, ids, versions, step, undefined, WARM_SECONDS); // warm-up, saturated
    // The primary and its service processes.
    const procs = [server.pid, ...spawnSync('pgrep', ['-P', String(server.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number)];
    const cpu0 = procs.map((p) => processCpuMs(p));
    // All of PostgreSQL (exited backends included): the earlier phases' pools close meanwhile.
    const pg0 = postgresCpuMs();
    const stats = await httpPhase(server.url, tokens, ids, versions, step);
    const n = Math.max(1, stats.count);
    const cpuPer = procs.reduce((sum, p, i) => sum + processCpuMs(p) - cpu0[i], 0) / n;
    return { stats, processes: procs.length - 1, cpuPer, pgPer: (postgresCpuMs() - pg0) / n };
  } finally {
    server.stop();
  }
}

/**
 * The service behind PgBouncer in transaction mode (DB_POOLER=transaction, docs/scaling.md §3):
 * a second compiled service logging in as a member of the application role with the timeouts on
 * the role, through a PgBouncer with as many server connections as the direct pool — so the
 * difference to the direct figure is the extra hop, not fewer connections.
 */
async function pgbouncerPhase(tokens: Record<string, string>, ids: string[], versions: Map<string, number>, step: Map<string, number>) {
  const role = `onewindow_bench_svc_${process.pid}`;
  const owner = new pg.Client({ connectionString: benchUrl });
  await owner.connect();
  for (const sql of serviceLoginStatements(role)) await owner.query(sql);
  const database = new URL(benchUrl).pathname.slice(1);
  const bouncer = await startPgBouncer({ upstreamUrl: benchUrl, database, users: [role], poolSize: CONCURRENCY });
  const server = await startServer({ DATABASE_URL: bouncer.urlFor(benchUrl, role), DB_POOLER: 'transaction', DATABASE_MIGRATION_URL: benchUrl, DB_POOL_MAX: String(CONCURRENCY) });
  try {
    await httpPhase(server.url, tokens, ids, versions, step, undefined, WARM_SECONDS); // warm-up, saturated
    const cpu0 = processCpuMs(server.pid);
    const bouncer0 = pgbouncerCpuMs();
    const stats = await httpPhase(server.url, tokens, ids, versions, step);
    const n = Math.max(1, stats.count);
    return { stats, cpuPer: (processCpuMs(server.pid) - cpu0) / n, bouncerPer: (pgbouncerCpuMs() - bouncer0) / n };
  } finally {
    server.stop();
    await new Promise((r) => setTimeout(r, 300));
    await bouncer.stop();
    await owner.query(`drop owned by ${role}`).catch(() => {});
    await owner.query(`drop role if exists ${role}`).catch(() => {});
    await owner.end();
  }
}

const pgbouncerCpuMs = () => cpuOfProcesses('pgbouncer', () => true);

/** Sets the CPU affinity of every thread of `pid` (taskset -a); false where not allowed or gone. */
function setAffinity(pid: number, cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;
}

/** Pids (as /proc names them) of the live processes named `comm`. */
function processesNamed(comm: string): string[] {
  return fs.readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
    } catch {
      return false; // gone meanwhile
    }
  });
}

const postgresPids = () => processesNamed('postgres').map(Number);

/**
 * The deployment the province runs (docs/scaling.md): PostgreSQL on cores of its own, the service
 * and its clients on the others. On this one machine, CPU affinity draws the line: every
 * PostgreSQL server process (the postmaster too, so backends forked meanwhile inherit it) on the
 * first half of the cores, this process — and so the service, the load generator and pgbench,
 * spawned from it — on the rest. The ceiling is then what that database core does with pgbench's
 * C client feeding it; the ratio asks whether the service feeds it as fast. The running service
 * is moved (every thread), not a new one started. Every affinity is put back afterwards, also on Ctrl-C. Needs taskset and the right to set PostgreSQL's affinity
 * (root, or the server's user); otherwise skipped.
 */
async function dedicatedCoresPhase(server: { url: string; pid: number }, tokens: Record<string, string>, ids: string[], versions: Map<string, number>, step: Map<string, number>) {
  const n = os.cpus().length;
  if (n < 2) return { skipped: 'one core' as const };
  const half = Math.floor(n / 2);
  const dbCpus = half === 1 ? '0' : `0-${half - 1}`;
  const appCpus = half === n - 1 ? String(half) : `${half}-${n - 1}`;
  const allCpus = `0-${n - 1}`;
  const pids = postgresPids();
  if (!pids.length || !pids.every((pid) => setAffinity(pid, dbCpus))) {
    pids.forEach((pid) => setAffinity(pid, allCpus));
    return { skipped: 'cannot set PostgreSQL’s CPU affinity (taskset, root)' as const };
  }
  const restore = () => {
    for (const pid of postgresPids()) setAffinity(pid, allCpus);
    setAffinity(server.pid, allCpus);
    setAffinity(process.pid, allCpus);
  };
  const onInterrupt = () => {
    restore();
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  // The same warm service as the shared-core rounds, moved: every thread of it, and this process.
  setAffinity(server.pid, appCpus);
  setAffinity(process.pid, appCpus);
  try {
    await httpPhase(server.url, tokens, ids, versions, step, undefined, SMALL ? 1 : 2); // settle on the new core
    const rounds: Array<{ http: Stats; ceiling: number; cpuPer: number }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const cpu0 = processCpuMs(server.pid);
      const http = await httpPhase(server.url, tokens, ids, versions, step);
      const cpuPer = (processCpuMs(server.pid) - cpu0) / Math.max(1, http.count);
      const ceiling = await pgbenchPhase();
      await pgbenchBackendsGone();
      rounds.push({ http, ceiling: ceiling.perSecond, cpuPer });
    }
    const mid = [...rounds].sort((a, b) => a.http.perSecond - b.http.perSecond)[Math.floor(rounds.length / 2)];
    const ceiling = median(rounds.map((r) => r.ceiling));
    return { skipped: undefined, dbCpus, appCpus, http: mid.http, cpuPer: mid.cpuPer, ceiling, ratios: rounds.map((r) => r.http.perSecond / r.ceiling) };
  } finally {
    restore();
    process.removeListener('SIGINT', onInterrupt);
  }
}

/**
 * The database's work, which does not drift with the machine's load as throughput does on shared
 * cores: shared-buffer pages touched and rows read (sequential scans plus index entries) in the
 * bench database, per transition.
 */
async function dbWork(): Promise<{ pages: number; rows: number }> {
  const c = new pg.Client({ connectionString: benchUrl });
  await c.connect();
  try {
    // Statistics reach pg_stat_database when backends go idle; give them the moment they need.
    await new Promise((r) => setTimeout(r, 1500));
    await c.query('select pg_stat_clear_snapshot()');
    const { rows } = await c.query(`select blks_hit + blks_read as pages, tup_returned as rows from pg_stat_database where datname = current_database()`);
    return { pages: Number(rows[0].pages), rows: Number(rows[0].rows) };
  } finally {
    await c.end();
  }
}

async function measured(label: string, phase: () => Promise<Stats>): Promise<Stats> {
  const before = await dbWork();
  const stats = await phase();
  const after = await dbWork();
  const per = (k: 'pages' | 'rows') => ((after[k] - before[k]) / Math.max(1, stats.count)).toFixed(0);
  console.log(`${label.padEnd(22)} ${fmt(stats)}  [${per('pages')} pages, ${per('rows')} rows read per transition]`);
  return stats;
}

export async function benchTransitions(): Promise<void> {
  console.log(`\n## Case transitions: ${CASES} cases, ${CONCURRENCY} clients, ${SECONDS} s per phase`);
  const t0 = performance.now();
  const { ids, versions } = await prepare();
  // The pgbench ceiling's own cases (copies of a bench case in the same state), so that it never
  // rewrites the rows the HTTP phases drive.
  await growDatabase(CEILING_CASES, { keepAs: 'bench_ceiling_cases' });
  console.log(`prepared ${ids.length} cases (+${CEILING_CASES} for pgbench) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const step = new Map(ids.map((id) => [id, 0]));
  const captured = await captureStatements(ids.slice(0, 2), versions, step);
  console.log(`statements per transition ${captured.perTransition.toFixed(2)}, SQL round trips ${captured.roundTrips.toFixed(2)} (BEGIN and COMMIT included; knex 'query' events over ${2 * CYCLE.length} transitions)`);
  figure('transitions', 'SQL round trips per transition', captured.roundTrips, '', undefined, `${captured.perTransition.toFixed(2)} statements besides BEGIN/COMMIT`);
  if (process.env.BENCH_PRINT_SQL === '1') for (const [sql, n] of captured.texts) console.log(`  ${String(n).padStart(3)} × ${sql.slice(0, 160)}`);

  const server = await startServer();
  try {
    const tokens = { township: await login(server.url, 'township.beishan'), verify: await login(server.url, 'verify.xihu') };
    await httpPhase(server.url, tokens, ids, versions, step, undefined, WARM_SECONDS); // warm-up, saturated
    const rounds: Array<{ http: Stats; cpuPer: number; sysPer: number; clientPer: number; pgPer: number; backendsPer: number; ceiling: number; ceilingLatency: number; pgPerCeiling: number }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const cpuBefore = processCpuMs(server.pid);
      const splitBefore = processCpuSplitMs(server.pid);
      const clientBefore = processCpuMs(process.pid);
      const pgBefore = postgresCpuMs();
      const backendsBefore = benchBackendsCpuMs();
      const http = await httpPhase(server.url, tokens, ids, versions, step);
      const n = Math.max(1, http.count);
      const cpuPer = (processCpuMs(server.pid) - cpuBefore) / n;
      const sysPer = (processCpuSplitMs(server.pid).sys - splitBefore.sys) / n;
      const clientPer = (processCpuMs(process.pid) - clientBefore) / n;
      const pgPer = (postgresCpuMs() - pgBefore) / n;
      const backendsPer = backendsCpuSince(backendsBefore) / n;
      const pgBench0 = postgresCpuMs();
      const ceiling = await pgbenchPhase();
      await pgbenchBackendsGone();
      const pgPerCeiling = (postgresCpuMs() - pgBench0) / Math.max(1, ceiling.perSecond * SECONDS);
      rounds.push({ http, cpuPer, sysPer, clientPer, pgPer, backendsPer, ceiling: ceiling.perSecond, ceilingLatency: ceiling.latencyMs, pgPerCeiling });
      console.log(`round ${r + 1}/${ROUNDS}: HTTP ${fmt(http)}; service ${cpuPer.toFixed(2)} ms (system ${sysPer.toFixed(2)}), its backends ${backendsPer.toFixed(2)} ms, load generator ${clientPer.toFixed(2)} ms per transition; pgbench ${ceiling.perSecond.toFixed(0)}/s (PostgreSQL ${pgPerCeiling.toFixed(2)} ms); ratio ${(http.perSecond / ceiling.perSecond).toFixed(2)}`);
    }
    // The round with the median HTTP rate stands for the service; the ceiling is the median of its own rounds.
    const mid = [...rounds].sort((a, b) => a.http.perSecond - b.http.perSecond)[Math.floor(rounds.length / 2)];
    const saturated = mid.http;
    const ceilingPerSecond = median(rounds.map((r) => r.ceiling));
    const { cpuPer, sysPer, clientPer, pgPer, backendsPer } = mid;
    const pgPerCeiling = median(rounds.map((r) => r.pgPerCeiling));
    const ratio = saturated.perSecond / ceilingPerSecond;
    const of = ROUNDS > 1 ? ` (median of ${ROUNDS} rounds)` : '';
    console.log(`HTTP API, saturated    ${fmt(saturated)}${of}`);
    console.log(`CPU per transition     service ${cpuPer.toFixed(2)} ms, PostgreSQL ${pgPer.toFixed(2)} ms, load generator ${clientPer.toFixed(2)} ms; the bench database's backends alone ${backendsPer.toFixed(2)} ms (the ${os.cpus().length} cores had ${((os.cpus().length * 1000) / Math.max(1, saturated.perSecond)).toFixed(2)} ms per transition)`);
    figure('transitions', 'PostgreSQL CPU per transition (HTTP)', pgPer, 'ms');
    // The timer bench compares its firing rate with this (bench/timers.ts).
    (globalThis as { benchHttpTransitionsPerSecond?: number }).benchHttpTransitionsPerSecond = saturated.perSecond;
    console.log(`service CPU            ${cpuPer.toFixed(2)} ms per transition (user ${(cpuPer - sysPer).toFixed(2)} + system ${sysPer.toFixed(2)} of the service process, saturated phase)`);
    figure('transitions', 'HTTP transitions, saturated', saturated.perSecond, '/s', undefined, `${CONCURRENCY} clients, p99 ${saturated.p99.toFixed(0)} ms, ${saturated.errors} errors${of}`);
    figure('transitions', 'service CPU per transition', cpuPer, 'ms');
    // The tail at half load is mostly not the service's: its own event loop and GC, the disk's
    // flush latency and pgbench at the same rate are printed beside it (docs/benchmarks.md).
    const loop0 = await serviceLoop(server.url);
    const { result: half, disk } = await withDiskProbe(() => httpPhase(server.url, tokens, ids, versions, step, saturated.perSecond / 2));
    const loop1 = await serviceLoop(server.url);
    console.log(`HTTP API, half load    ${fmt(half)}${half.p99 < 50 ? '' : '  (p99 over the 50 ms goal)'}`);
    console.log(`  the service meanwhile: ${loopReport(loop0, loop1)}`);
    console.log(`  the disk meanwhile:    ${diskReport(disk)}`);
    const { result: pacedRun, disk: pacedDisk } = await withDiskProbe(() => pgbenchPhase(half.perSecond));
    const paced = pacedRun.latencies!;
    await pgbenchBackendsGone();
    console.log(`pgbench, same rate     ${fmt(paced)}  (pgbench -R ${half.perSecond.toFixed(0)}: the database's own tail at this rate)`);
    console.log(`  the disk meanwhile:    ${diskReport(pacedDisk)}`);
    figure('transitions', 'p99 at half load', half.p99, 'ms', { op: '<', value: 50 }, `${half.perSecond.toFixed(0)}/s offered; pgbench at the same rate: p99 ${paced.p99.toFixed(1)} ms${disk ? `; longest fdatasync ${disk.max.toFixed(0)} ms` : ''}`);
    console.log(`PostgreSQL CPU         ${pgPerCeiling.toFixed(2)} ms per pgbench transition`);
    figure('transitions', 'PostgreSQL CPU per transition (pgbench)', pgPerCeiling, 'ms');
    console.log(`pgbench ceiling        ${ceilingPerSecond.toFixed(0).padStart(6)} transitions/s${of}  latency avg ${median(rounds.map((r) => r.ceilingLatency)).toFixed(1)} ms  (pgbench -c ${CONCURRENCY} -j 2 -T ${SECONDS}, bench/pgbench/${process.env.BENCH_PGBENCH_SCRIPT ?? 'transition'}.sql)`);
    console.log(`ratio HTTP / pgbench   ${ratio.toFixed(2)} (goal ≥ 0.6)${ROUNDS > 1 ? `; per round ${rounds.map((r) => (r.http.perSecond / r.ceiling).toFixed(2)).join(', ')}` : ''}`);
    figure('transitions', 'pgbench ceiling', ceilingPerSecond, '/s', undefined, `bench/pgbench/${process.env.BENCH_PGBENCH_SCRIPT ?? 'transition'}.sql, ${CONCURRENCY} clients${of}`);
    figure('transitions', 'ratio HTTP / pgbench', ratio, '', { op: '>=', value: 0.6 }, ROUNDS > 1 ? `rounds ${rounds.map((r) => (r.http.perSecond / r.ceiling).toFixed(2)).join(', ')}` : undefined);
    const bare = await bareNodePhase();
    console.log(`bare Node HTTP + pg    ${fmt(bare.stats)}  (bench/scale/bare-node.mjs, same round trips as pgbench; its CPU ${bare.cpuPer.toFixed(2)} ms per transition, system ${bare.sysPer.toFixed(2)}; its backends ${bare.pgPer.toFixed(2)} ms)`);
    console.log(`ratio bare / pgbench   ${(bare.stats.perSecond / ceilingPerSecond).toFixed(2)}; service / bare ${(saturated.perSecond / bare.stats.perSecond).toFixed(2)}`);
    figure('transitions', 'bare Node HTTP + pg, saturated', bare.stats.perSecond, '/s', undefined, `ratio to pgbench ${(bare.stats.perSecond / ceilingPerSecond).toFixed(2)}, ${bare.cpuPer.toFixed(2)} ms Node CPU per transition, ${bare.stats.errors} errors`);
    if (PGBOUNCER && (!SMALL || process.env.BENCH_PGBOUNCER === '1')) {
      const via = await pgbouncerPhase(tokens, ids, versions, step);
      console.log(`HTTP via PgBouncer     ${fmt(via.stats)}  (transaction mode, ${CONCURRENCY} server connections; direct above: ${saturated.perSecond.toFixed(0)}/s; service CPU ${via.cpuPer.toFixed(2)} ms, PgBouncer ${via.bouncerPer.toFixed(2)} ms per transition)`);
      figure('transitions', 'HTTP transitions through PgBouncer (transaction mode)', via.stats.perSecond, '/s', undefined, `direct ${saturated.perSecond.toFixed(0)}/s in the same run; PgBouncer CPU ${via.bouncerPer.toFixed(2)} ms per transition, ${via.stats.errors} errors`);
    } else console.log(`HTTP via PgBouncer     skipped: ${PGBOUNCER ? 'small mode (BENCH_PGBOUNCER=1 runs it)' : 'pgbouncer is not installed'}`);
    const dedicated = await dedicatedCoresPhase(server, tokens, ids, versions, step);
    if (dedicated.skipped) console.log(`PostgreSQL on own cores skipped: ${dedicated.skipped}`);
    else {
      const dr = dedicated.ratios.map((x) => x.toFixed(2)).join(', ');
      const dRatio = dedicated.http.perSecond / dedicated.ceiling;
      console.log(`PostgreSQL on own cores  CPUs ${dedicated.dbCpus} for PostgreSQL, ${dedicated.appCpus} for the service, its clients and pgbench:`);
      console.log(`  HTTP API, saturated  ${fmt(dedicated.http)}  (service CPU ${dedicated.cpuPer.toFixed(2)} ms per transition)`);
      console.log(`  pgbench ceiling      ${dedicated.ceiling.toFixed(0).padStart(6)} transitions/s${of}`);
      console.log(`  ratio HTTP / pgbench ${dRatio.toFixed(2)} (goal ≥ 0.6)${ROUNDS > 1 ? `; per round ${dr}` : ''}`);
      figure('transitions', 'HTTP transitions, PostgreSQL on its own cores', dedicated.http.perSecond, '/s', undefined, `CPUs ${dedicated.dbCpus} PostgreSQL, ${dedicated.appCpus} service + clients; p99 ${dedicated.http.p99.toFixed(0)} ms, ${dedicated.http.errors} errors${of}`);
      figure('transitions', 'pgbench ceiling, PostgreSQL on its own cores', dedicated.ceiling, '/s', undefined, `same split${of}`);
      figure('transitions', 'ratio HTTP / pgbench, PostgreSQL on its own cores', dRatio, '', { op: '>=', value: 0.6 }, ROUNDS > 1 ? `rounds ${dr}` : undefined);
    }
    if (!SMALL || process.env.BENCH_TWO_PROCESSES === '1') {
      const two = await twoProcessesPhase(tokens, ids, versions, step);
      console.log(`HTTP, 2 processes      ${fmt(two.stats)}  (SERVICE_PROCESSES=2: ${two.processes} service processes on one port, ${Math.ceil(CONCURRENCY / 2)} connections each; service CPU ${two.cpuPer.toFixed(2)} ms (all its processes), PostgreSQL ${two.pgPer.toFixed(2)} ms per transition; ratio to pgbench ${(two.stats.perSecond / ceilingPerSecond).toFixed(2)})`);
      figure('transitions', 'HTTP transitions, SERVICE_PROCESSES=2', two.stats.perSecond, '/s', undefined, `ratio to pgbench ${(two.stats.perSecond / ceilingPerSecond).toFixed(2)}, service CPU ${two.cpuPer.toFixed(2)} ms per transition, ${two.stats.errors} errors`);
    }
    if (GROW > 0) {
      // The same load on the database grown by GROW cases: a command's cost must not grow with it.
      // The small figure again, right before: on a shared machine load drifts between phases.
      const small = await measured('HTTP API, small db', () => httpPhase(server.url, tokens, ids, versions, step));
      const grown = await growDatabase(GROW);
      console.log(`grew to ${grown.cases} cases, ${grown.pendingTimers} pending timers in ${grown.seconds.toFixed(1)} s`);
      await httpPhase(server.url, tokens, ids.slice(0, 20), versions, step, 50); // warm-up
      const large = await measured(`HTTP API, +${GROW} cases`, () => httpPhase(server.url, tokens, ids, versions, step));
      console.log(`large / small          ${((large.perSecond / small.perSecond) * 100).toFixed(0)}%`);
      if (process.env.BENCH_WITHOUT_INDEX === '1') {
        // What migration 005 is for: the same load with the timers-by-task index dropped.
        const c = new pg.Client({ connectionString: benchUrl });
        await c.connect();
        await c.query('drop index timers_pending_by_task');
        await measured('  … without the index', () => httpPhase(server.url, tokens, ids, versions, step));
        await c.query(`create index timers_pending_by_task on timers (task_id) where status = 'pending'`);
        await c.end();
      }
    }
    if (!SMALL) {
      // Last: the raw loop rewrites the bench cases' rows behind the engine's back.
      const raw = await rawSqlPhase(ids);
      console.log(`raw SQL from Node      ${fmt(raw)}${GROW > 0 ? ' (on the grown database)' : ''}`);
    }
  } finally {
    server.stop();
  }
}
