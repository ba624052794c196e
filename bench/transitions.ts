/**
 * Case transitions through the HTTP API against PostgreSQL, next to a raw-SQL ceiling: the
 * statements one transition needs (lock the case, read its live tasks, update it, append an
 * event, close a task and cancel its timers, open a task with its three escalation timers),
 * from a plain pg client loop.
 *
 *   BENCH_SECONDS (default 15)  duration of each phase
 *   BENCH_CONCURRENCY (default 8) clients in the saturating phases
 *   BENCH_CASES (default 400)   cases the load is spread over
 *   BENCH_GROW (default 100000) cases added in SQL before the same load runs again (0: skip)
 *   BENCH_WITHOUT_INDEX=1       then once more without timers_pending_by_task (migration 005)
 *   DATABASE_URL                server to use (default postgres://postgres@127.0.0.1:5432/test);
 *                               the bench creates and drops its own database `onewindow_bench_<pid>`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DEMO_PASSWORD } from '../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { benchUrl, demoActor, fmt, freshBenchDatabase, growDatabase, openCases, summarise, type Stats } from './support.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const CASES = Number(process.env.BENCH_CASES ?? 400);
const GROW = Number(process.env.BENCH_GROW ?? 100_000);

// The loop every bench case runs: 公示 objection → both investigation branches → 初审 → 公示 again.
// Four transitions, each closing one task and opening others, as real traffic does.
const CYCLE: Array<{ user: 'township' | 'verify'; type: string; data: Record<string, unknown> }> = [
  { user: 'township', type: 'OBJECTION_RAISED', data: { details: '群众异议，重新调查' } },
  { user: 'verify', type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true } },
  { user: 'township', type: 'HOME_VISIT_COMPLETED', data: { visitors: ['甲', '乙'], findings: '属实' } },
  { user: 'township', type: 'PRELIMINARY_APPROVE', data: { proposedMonthlyAmountFen: 90000 } },
];

async function prepare() {
  const db = await freshBenchDatabase();
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const [clerk, township, verify] = await Promise.all(['clerk.beishan', 'township.beishan', 'verify.xihu'].map((u) => demoActor(db, u)));
  const ids = await openCases(db, CASES, async (t, id) => {
    for (const [who, type, data] of [
      [clerk, 'ACCEPT', {}],
      [verify, 'VERIFICATION_COMPLETED', CYCLE[1].data],
      [township, 'HOME_VISIT_COMPLETED', CYCLE[2].data],
      [township, 'PRELIMINARY_APPROVE', CYCLE[3].data],
    ] as const) {
      await engine.sendEvent(t, who, id, { type, data });
    }
  });
  const versions = new Map<string, number>((await db('cases').select('id', 'version')).map((r) => [r.id, r.version]));
  await db.destroy();
  return { ids, versions };
}

async function startServer(): Promise<{ url: string; stop(): void }> {
  const port = 3900 + Math.floor(Math.random() * 90);
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROFILE] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, DATABASE_URL: benchUrl, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, PORT: String(port), LOG_LEVEL: 'warn', WORKER: 'off' },
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
  return ((await res.json()) as { token: string }).token;
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
    // Last: the raw loop rewrites the bench cases' rows behind the engine's back.
    const ceiling = await rawSqlPhase(ids);
    console.log(`raw SQL ceiling        ${fmt(ceiling)}${GROW > 0 ? ' (on the grown database)' : ''}`);
    console.log(`ratio HTTP / ceiling   ${((saturated.perSecond / ceiling.perSecond) * 100).toFixed(0)}%`);
  } finally {
    server.stop();
  }
}
