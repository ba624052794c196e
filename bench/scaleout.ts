/**
 * Scale-out: two compiled service processes (WORKER=off) behind one port — a tiny round-robin
 * proxy in this process — plus two worker processes, on one PostgreSQL. Measures HTTP
 * transitions/s through the proxy while the workers fire a backlog of due timers, and checks
 * correctness: concurrent writes to one case through different nodes (exactly one wins, none
 * lost), every case's version equals its event count, no timer fired twice.
 *
 *   BENCH_SCALEOUT_SECONDS (default 15, small 3), BENCH_SCALEOUT_TIMERS (default 20000, small 1000)
 *
 * Small mode cycles 64 cases (not 200), sends the same command to both nodes on 50 of them (not
 * 100) and puts the due timers on 50 other cases (not 200).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { Knex } from 'knex';
import { ensureServerBuild } from '../scripts/build-server.ts';
import { DEMO_PASSWORD } from '../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { benchUrl, demoActor, fmt, freshBenchDatabase, openCases, steps, summarise } from './support.ts';
import { startService, type Service } from './startup.ts';
import { figure } from './summary.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
const SECONDS = Number(process.env.BENCH_SCALEOUT_SECONDS ?? (SMALL ? 3 : 15));
const TIMERS = Number(process.env.BENCH_SCALEOUT_TIMERS ?? (SMALL ? 1000 : 20_000));
const CLIENTS = 8;
const CASES = SMALL ? 64 : 200;
const TIMER_CASES = SMALL ? 50 : 200;
// The same command sent to both nodes at once, on this many cases.
const CONFLICT_CASES = SMALL ? 50 : 100;
const ROOT = path.resolve(import.meta.dirname, '..');

// The transitions bench's loop: 公示 objection → both investigations → 初审 → 公示 again.
const CYCLE: Array<{ user: 'township' | 'verify'; type: string; data: Record<string, unknown> }> = [
  { user: 'township', type: 'OBJECTION_RAISED', data: { details: '群众异议，重新调查' } },
  { user: 'verify', type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true } },
  { user: 'township', type: 'HOME_VISIT_COMPLETED', data: { visitors: ['甲', '乙'], findings: '属实' } },
  { user: 'township', type: 'PRELIMINARY_APPROVE', data: { proposedMonthlyAmountFen: 90000 } },
];

async function prepare(db: Knex): Promise<string[]> {
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const [clerk, township, verify] = await Promise.all(['clerk.beishan', 'township.beishan', 'verify.xihu'].map((u) => demoActor(db, u)));
  return openCases(db, CASES, async (t, id) => {
    for (const [who, type, data] of [[clerk, 'ACCEPT', {}], [verify, 'VERIFICATION_COMPLETED', CYCLE[1].data], [township, 'HOME_VISIT_COMPLETED', CYCLE[2].data], [township, 'PRELIMINARY_APPROVE', CYCLE[3].data]] as const) {
      await engine.sendEvent(t, who, id, { type, data });
    }
  });
}

/** One port, round-robin over the nodes, keep-alive both sides. */
function proxy(nodes: Service[]): Promise<{ url: string; close(): void }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  const server = http.createServer((req, res) => {
    const node = nodes[next++ % nodes.length];
    const up = http.request({ host: '127.0.0.1', port: node.port, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => (res.writeHead(502), res.end()));
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as any).port}`, close: () => (server.close(), agent.destroy()) })));
}

function worker(id: string): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'dist/server/worker.js')], {
    env: { ...process.env, DATABASE_URL: benchUrl, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, WORKER_ID: id, WORKER_BATCH: '200', NOTICES: 'off' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const post = async (url: string, token: string, id: string, body: object) => {
  const res = await fetch(`${url}/api/cases/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
};

export async function benchScaleout(): Promise<void> {
  console.log(`\n## Scale-out: 2 service processes behind one port + 2 workers on one PostgreSQL (${CLIENTS} clients, ${SECONDS} s, ${TIMERS} due timers)`);
  const mark = steps('scaleout');
  await ensureServerBuild();
  const db = await freshBenchDatabase();
  const nodes: Service[] = [];
  const workers: ChildProcess[] = [];
  try {
    mark('fresh database');
    const ids = await prepare(db);
    mark(`${CASES} cases prepared`);
    const versions = new Map<string, number>((await db('cases').select('id', 'version')).map((r) => [r.id, r.version]));
    // Due warnings on other cases' tasks, for the workers to fire while the nodes take traffic.
    const timerCases = await openCases(db, TIMER_CASES);
    await db.raw(
      `insert into timers (case_id, task_id, state_id, kind, event_type, due_at, created_at)
       select t.case_id, t.id, t.state_id, 'warn', 'DEADLINE_WARNING', now() - interval '1 minute' * (g % 1000), now()
       from generate_series(1, ?) g join (select row_number() over () - 1 as i, id, case_id, state_id from tasks where status = 'open' and case_id = any(?)) t on t.i = g % ?`,
      [TIMERS, timerCases, timerCases.length],
    );
    mark(`${TIMER_CASES} timer cases, ${TIMERS} timers`);
    nodes.push(...(await Promise.all([0, 1].map(() => startService(process.execPath, [path.join(ROOT, 'dist/server/main.js')], { WORKER: 'off' })))));
    const front = await proxy(nodes);
    const tokenOf = async (username: string) =>
      ((await (await fetch(`${front.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: DEMO_PASSWORD }) })).json()) as { token: string }).token;
    const tokens = { township: await tokenOf('township.beishan'), verify: await tokenOf('verify.xihu') };
    workers.push(worker('scale-a'), worker('scale-b'));
    mark('2 nodes, proxy, 2 workers started');

    // Throughput: each client its own slice of the cases.
    const step = new Map(ids.map((id) => [id, 0]));
    const latencies: number[] = [];
    let errors = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const mine = ids.filter((_, i) => i % CLIENTS === c);
        for (let k = 0; performance.now() - t0 < SECONDS * 1000; k++) {
          const id = mine[k % mine.length];
          const s = CYCLE[step.get(id)!];
          const t1 = performance.now();
          const status = await post(front.url, tokens[s.user], id, { type: s.type, data: s.data, expectedVersion: versions.get(id) });
          latencies.push(performance.now() - t1);
          if (status === 200) {
            versions.set(id, versions.get(id)! + 1);
            step.set(id, (step.get(id)! + 1) % CYCLE.length);
          } else errors++;
        }
      }),
    );
    const stats = summarise(latencies, (performance.now() - t0) / 1000, errors);
    figure('scaleout', 'HTTP transitions, 2 nodes + 2 workers', stats.perSecond, '/s', undefined, `p99 ${stats.p99.toFixed(0)} ms, ${errors} errors`);
    console.log(`HTTP through the proxy   ${fmt(stats)}`);

    // Conflicts: the same command twice at once with the same expected version, one to each node.
    let won = 0;
    let conflicts = 0;
    let other = 0;
    for (const id of ids.slice(0, CONFLICT_CASES)) {
      const s = CYCLE[step.get(id)!];
      const body = { type: s.type, data: s.data, expectedVersion: versions.get(id) };
      const statuses = await Promise.all(nodes.map((n) => post(n.url, tokens[s.user], id, body)));
      won += statuses.filter((x) => x === 200).length;
      conflicts += statuses.filter((x) => x === 409).length;
      other += statuses.filter((x) => x !== 200 && x !== 409).length;
      if (statuses.includes(200)) {
        versions.set(id, versions.get(id)! + 1);
        step.set(id, (step.get(id)! + 1) % CYCLE.length);
      }
    }
    front.close();
    mark('throughput and conflicts');
    // Let the workers finish the backlog.
    for (let i = 0; i < 600; i++) {
      const { rows } = await db.raw(`select count(*)::int as n from timers where status = 'pending' and due_at <= now()`);
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    mark('backlog drained');
    const lost = (await db.raw(`select count(*)::int as n from cases c where c.version <> (select count(*) from case_events e where e.case_id = c.id)`)).rows[0].n;
    const doubles = (await db.raw(`select count(*)::int as n from (select payload->>'timerId' from case_events where type = 'DEADLINE_WARNING' group by 1 having count(*) > 1) d`)).rows[0].n;
    const fired = (await db.raw(`select count(*)::int as n from timers where status in ('fired', 'cancelled') and kind = 'warn' and case_id = any(?) and due_at <= now()`, [timerCases])).rows[0].n;
    const dbVersions = new Map<string, number>((await db('cases').whereIn('id', ids).select('id', 'version')).map((r) => [r.id, r.version]));
    const drift = ids.filter((id) => dbVersions.get(id) !== versions.get(id)).length;
    figure('scaleout', 'same command to both nodes: won', won, `of ${CONFLICT_CASES}`, { op: '>=', value: CONFLICT_CASES }, `${conflicts} × 409, ${other} other`);
    figure('scaleout', 'version conflicts lost', drift + lost + other, '', { op: '<', value: 1 });
    figure('scaleout', 'double fires', doubles, '', { op: '<', value: 1 });
    figure('scaleout', 'due timers done', fired, `of ${TIMERS}`, { op: '>=', value: TIMERS });
    console.log(`same command to both nodes at once, ${CONFLICT_CASES} cases: ${won} won, ${conflicts} answered 409 VERSION_CONFLICT, ${other} other (must be ${CONFLICT_CASES} / ${CONFLICT_CASES} / 0)`);
    console.log(`correctness: ${drift} cases whose version differs from the client's count, ${lost} whose version differs from its event count, ${doubles} timers fired twice, ${fired} of ${TIMERS} due timers done`);
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(nodes.map((n) => n.stop()));
    await db.destroy();
  }
}
