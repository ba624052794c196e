/**
 * BENCH_ONLY=queries — the read side at a million cases (issue 11, goal 2): the generated
 * database (bench/scale/generate.ts), the real app listening on a port, requests over HTTP with
 * keep-alive, one at a time, p50/p95/p99 over BENCH_QUERY_ROUNDS requests each (500 after 20
 * warm-up requests; small: 40 after 3 — a smoke run, its tails are rough).
 * BENCH_WITHOUT_SCALE_INDEXES=1 measures without migration 016's indexes. BENCH_REUSE=1 with a
 * named BENCH_DB keeps an already generated database (and does not drop it).
 * BENCH_QUERY_ROWS=board,inbox township — only the rows whose name starts with one of these
 * (comma-separated), e.g. to measure one query again without the whole table.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import knexFactory from 'knex';
import { buildApp } from '../src/http/app.ts';
import { connect, migrateToLatest } from '../src/db/connection.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { DEMO_PASSWORD } from '../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { BENCH_DB, baseUrl, benchUrl, freshBenchDatabase } from './support.ts';
import { figure } from './summary.ts';
import * as scaleIndexes from '../migrations/20261202_016_scale_indexes.ts';
import { HEAVY_DEPARTMENT, SCALE_CASES, generateScaleData, type Generated } from './scale/generate.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
// Small is a smoke run (the figures that count are at the million): fewer requests, kept under 20 s.
const ROUNDS = Number(process.env.BENCH_QUERY_ROUNDS ?? (SMALL ? 40 : 500));
const WARM_UP = SMALL ? 3 : 20;
const ROW_PREFIXES = process.env.BENCH_QUERY_ROWS?.split(',').map((s) => s.trim()).filter(Boolean);
const TARGETS: Record<string, { p: 'p95' | 'p99'; ms: number }> = { inbox: { p: 'p95', ms: 50 }, board: { p: 'p95', ms: 50 }, case: { p: 'p95', ms: 30 }, track: { p: 'p99', ms: 10 } };

function get(port: number, agent: http.Agent, path: string, token?: string): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 }));
    });
    req.on('error', reject);
  });
}

async function reuseOrGenerate(): Promise<{ db: ReturnType<typeof connect>; gen: Generated | null; reused: boolean }> {
  if (process.env.BENCH_REUSE) {
    const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
    const exists = (await admin.raw('select 1 from pg_database where datname = ?', [BENCH_DB])).rows.length > 0;
    await admin.destroy();
    if (exists) {
      const db = connect({ kind: 'postgres', url: benchUrl, poolMax: 4 });
      await migrateToLatest(db);
      const n = Number((await db('cases').count('* as n').first())!.n);
      if (n >= SCALE_CASES) return { db, gen: null, reused: true };
      await db.destroy();
    }
  }
  const db = await freshBenchDatabase();
  return { db, gen: await generateScaleData(db), reused: false };
}

export async function benchQueries(): Promise<void> {
  console.log(`\n## Queries at scale: ${SCALE_CASES.toLocaleString('en')} cases, ${ROUNDS} HTTP requests each`);
  const { db, gen } = await reuseOrGenerate();
  if (gen) {
    figure('queries', 'generation', gen.seconds, 's', { op: '<', value: 300 }, `${gen.cases} cases`);
    console.log(`generated in ${gen.seconds.toFixed(1)} s: ${gen.cases} cases, ${gen.tasks} tasks (${gen.liveTasks} live, ${(gen.liveTasks / gen.tasks * 100).toFixed(0)} %; ${gen.heavyLive} in ${HEAVY_DEPARTMENT}), ${gen.pendingTimers} pending timers, ${gen.events} events`);
  } else console.log(`reused ${BENCH_DB}`);
  // BENCH_WITHOUT_SCALE_INDEXES=1: the figures before migration 016 (its indexes dropped, put back after).
  const without = !!process.env.BENCH_WITHOUT_SCALE_INDEXES;
  if (without) {
    await scaleIndexes.down(db);
    await db.raw('analyze tasks, cases');
    console.log('without the indexes of migration 016');
  }
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const app = await buildApp(
    { db, engine, sessionHours: 8, limits: { trackPerAddressPerMinute: 1e9, trackFailuresPerReference: 1e9, loginPerAddressPerMinute: 1e9, trackFailuresPerAddressPerDay: 1e9 } },
    { logger: false },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const login = async (username: string) => {
    const body = JSON.stringify({ username, password: DEMO_PASSWORD });
    const res = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/api/auth/login', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (r) => {
        let s = '';
        r.on('data', (c) => (s += c));
        r.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.end(body);
    });
    return JSON.parse(res).token as string;
  };
  try {
    const reviewer = await login('verify.xihu');
    const supervisor = await login('supervisor.xihu');
    const clerk = await login('clerk.beishan');
    // A case page and a tracking request of real (engine-made) cases among the million.
    const meta = async (key: string) => (await db('bench_meta').where({ key }).first())?.value;
    const tracked: { reference: string; trackingCode: string } = gen?.tracking ?? (await meta('tracking'));
    const caseId: string = gen?.caseId ?? (await meta('caseId'));
    const first = JSON.parse((await get(port, agent, '/api/tasks?pageSize=50', reviewer)).body);
    let deep = first.nextCursor as string;
    let deepPage = 2;
    for (; deepPage < 100; deepPage++) {
      const next = JSON.parse((await get(port, agent, `/api/tasks?pageSize=50&cursor=${encodeURIComponent(deep)}`, reviewer)).body).nextCursor;
      if (!next) break;
      deep = next;
    }
    const procedure = first.counts?.procedure?.[0]?.value ?? 'social-assistance';

    const cases: Array<[string, string, string | undefined, keyof typeof TARGETS]> = [
      ['inbox default view', '/api/tasks', reviewer, 'inbox'],
      ['inbox status=claimed', '/api/tasks?status=claimed', reviewer, 'inbox'],
      ['inbox status=open', '/api/tasks?status=open', reviewer, 'inbox'],
      ['inbox escalation=red', '/api/tasks?escalation=red', reviewer, 'inbox'],
      ['inbox escalation=warned', '/api/tasks?escalation=warned', reviewer, 'inbox'],
      ['inbox overdue=true', '/api/tasks?overdue=true', reviewer, 'inbox'],
      ['inbox overdue=false', '/api/tasks?overdue=false', reviewer, 'inbox'],
      ['inbox procedure', `/api/tasks?procedure=${procedure}`, reviewer, 'inbox'],
      ['inbox sort=opened', '/api/tasks?sort=opened', reviewer, 'inbox'],
      ['inbox page 2 (cursor, 50)', `/api/tasks?pageSize=50&cursor=${encodeURIComponent(first.nextCursor)}`, reviewer, 'inbox'],
      [`inbox page ${deepPage} (cursor, 50)`, `/api/tasks?pageSize=50&cursor=${encodeURIComponent(deep)}`, reviewer, 'inbox'],
      ['inbox township (clerk)', '/api/tasks', clerk, 'inbox'],
      ['board', '/api/supervision', supervisor, 'board'],
      ['board list overdue', '/api/supervision/tasks?bucket=overdue', supervisor, 'board'],
      ['board list dept open', `/api/supervision/tasks?bucket=open&department=${HEAVY_DEPARTMENT}`, supervisor, 'board'],
      ['case page', `/api/cases/${caseId}`, supervisor, 'case'],
    ];
    cases.push(['tracking', `/api/track/${tracked.reference}?code=${tracked.trackingCode}`, undefined, 'track']);
    console.log(`${'request'.padEnd(28)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'p99'.padStart(7)}   target`);
    for (const [name, path, token, kind] of cases) {
      if (ROW_PREFIXES && !ROW_PREFIXES.some((p) => name.startsWith(p))) continue;
      for (let i = 0; i < WARM_UP; i++) await get(port, agent, path, token);
      const ms: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const r = await get(port, agent, path, token);
        if (r.status !== 200) throw new Error(`${name}: ${r.status} ${r.body.slice(0, 300)}`);
        ms.push(r.ms);
      }
      ms.sort((a, b) => a - b);
      const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
      const t = TARGETS[kind];
      const value = t.p === 'p95' ? at(0.95) : at(0.99);
      figure('queries', `${name} ${t.p}`, value, 'ms', { op: '<', value: t.ms });
      console.log(
        `${name.padEnd(28)} ${at(0.5).toFixed(1).padStart(7)} ${at(0.95).toFixed(1).padStart(7)} ${at(0.99).toFixed(1).padStart(7)}   ${t.p} < ${t.ms} ms ${value < t.ms ? 'met' : 'MISSED'}`,
      );
    }
  } finally {
    agent.destroy();
    await app.close();
    if (without) {
      await scaleIndexes.up(db);
      await db.raw('analyze tasks, cases');
    }
    await db.destroy();
  }
}
