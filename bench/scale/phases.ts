/**
 * Where one request's time goes, in process: `BENCH_DB=… npx tsx bench/scale/phases.ts <user> <url> [rounds]`
 * on a generated database (bench/scale/main.ts). Times the Fastify phases of the request
 * (authentication, handler, serialization, send) with hooks, median and p95 over `rounds`
 * (default 60, after 10 warm-up); for the board also each of its parts called on its own.
 * PROFILE=<file.cpuprofile>: a CPU profile of the measured requests only (not start-up).
 */
import fs from 'node:fs';
import inspector from 'node:inspector/promises';
import Fastify from 'fastify';
import { SERVER_OPTIONS, oneWindowApp } from '../../src/http/app.ts';
import { connect, migrateToLatest } from '../../src/db/connection.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { LIMITS } from '../../src/http/abuse.ts';
import { authenticate } from '../../src/identity.ts';
import * as tasks from '../../src/db/tasks.ts';
import * as cases from '../../src/db/cases.ts';
import { leadCounts } from '../../src/db/leads.ts';
import { BOARD_EXACT_BELOW, LEGACY_LIST, boardCells } from '../../src/engine/queries/board.ts';
import { COUNT_CAP } from '../../src/engine/queries/inbox.ts';
import { addDays, chinaDay } from '../../src/engine/calendar.ts';
import { benchUrl } from '../support.ts';

const [user, url, roundsArg] = process.argv.slice(2);
const ROUNDS = Number(roundsArg ?? 60);
const db = connect({ kind: 'postgres', url: benchUrl, poolMax: Number(process.env.POOL ?? 4) });
await migrateToLatest(db);
const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
const app = Fastify({ ...SERVER_OPTIONS, logger: false });
// Root hooks, added before the API: they run first in each phase (onRequest before auth's).
const marks = new Map<string, number>();
for (const hook of ['onRequest', 'preParsing', 'preValidation', 'preHandler', 'preSerialization', 'onSend', 'onResponse'] as const) {
  app.addHook(hook, async () => void marks.set(hook, performance.now()));
}
await app.register(oneWindowApp, { db, engine, sessionHours: 8, limits: { ...LIMITS, loginPerAddressPerMinute: 1e9 } });
await app.ready();
const token = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user, password: DEMO_PASSWORD } })).json().token;

// CPU of the PostgreSQL backends serving this database (only this process uses it), from /proc.
const backendTicks = async () => {
  const { rows } = await db.raw('select pid from pg_stat_activity where datname = current_database()');
  let ticks = 0;
  for (const { pid } of rows) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // a backend that ended meanwhile
    }
  }
  return ticks;
};
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `median ${at(0.5).toFixed(2)}  p95 ${at(0.95).toFixed(2)} ms`;
};
const phases: Record<string, number[]> = { total: [], 'auth (onRequest→preParsing)': [], 'to handler': [], handler: [], 'serialize (preSerialization→onSend)': [], 'send (onSend→onResponse)': [] };
let bytes = 0;
let cpu = process.cpuUsage();
let pgTicks = 0;
const session = process.env.PROFILE ? new inspector.Session() : undefined;
session?.connect();
for (let i = 0; i < 10 + ROUNDS; i++) {
  if (i === 10) {
    await session?.post('Profiler.enable');
    await session?.post('Profiler.start');
    cpu = process.cpuUsage();
    pgTicks = await backendTicks();
  }
  marks.clear();
  const t0 = performance.now();
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const t1 = performance.now();
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body.slice(0, 200)}`);
  bytes = res.body.length;
  if (i < 10) continue;
  const m = (k: string) => marks.get(k)!;
  phases.total.push(t1 - t0);
  phases['auth (onRequest→preParsing)'].push(m('preParsing') - m('onRequest'));
  phases['to handler'].push(m('preHandler') - m('preParsing'));
  phases.handler.push(m('preSerialization') - m('preHandler'));
  phases['serialize (preSerialization→onSend)'].push(m('onSend') - m('preSerialization'));
  phases['send (onSend→onResponse)'].push(m('onResponse') - m('onSend'));
}
const used = process.cpuUsage(cpu);
const pgMs = ((await backendTicks()) - pgTicks) * 10;
if (session) {
  const { profile } = await session.post('Profiler.stop');
  fs.writeFileSync(process.env.PROFILE!, JSON.stringify(profile));
  session.disconnect();
}
console.log(`${url} as ${user}: ${bytes} bytes, ${ROUNDS} rounds, Node CPU ${((used.user + used.system) / 1000 / ROUNDS).toFixed(2)} ms, PostgreSQL CPU ${(pgMs / ROUNDS).toFixed(2)} ms a request`);
for (const [k, v] of Object.entries(phases)) console.log(`  ${k.padEnd(38)} ${stats(v)}`);

if (url.startsWith('/api/supervision') && !url.includes('/tasks')) {
  const actor = (await authenticate(db, token, new Date()))!;
  const now = new Date();
  const calendar = await engine.calendars.forRegion(db, actor.regionCode);
  const soon = calendar.addWorkingDays(now, 2);
  const today = chinaDay(now);
  const parts: Record<string, () => Promise<unknown>> = {
    authenticate: () => authenticate(db, token, new Date()),
    'engine.supervision': () => engine.supervision(db, actor),
    boardCells: () => boardCells(db, actor.regionCode, now, soon, { exactBelow: BOARD_EXACT_BELOW, cap: COUNT_CAP }),
    openedAndClosedPerDay: () => cases.openedAndClosedPerDay(db, actor.regionCode, addDays(today, -29), addDays(today, -1)),
    'listEscalated (legacy)': () => tasks.listEscalated(db, actor.regionCode, LEGACY_LIST),
    'level counts (legacy)': () =>
      tasks.countTasksCapped(
        db,
        Object.fromEntries((['warned', 'overdue', 'red'] as const).map((escalation) => [escalation, { regionPrefix: actor.regionCode, statuses: tasks.LIVE_STATUSES, escalation }])),
        COUNT_CAP,
      ),
    leadCounts: () => leadCounts(db, actor.regionCode, now),
  };
  console.log('board parts, each alone (sequential):');
  for (const [name, run] of Object.entries(parts)) {
    const ms: number[] = [];
    for (let i = 0; i < 5 + ROUNDS; i++) {
      const t0 = performance.now();
      await run();
      if (i >= 5) ms.push(performance.now() - t0);
    }
    console.log(`  ${name.padEnd(38)} ${stats(ms)}`);
  }
}
await app.close();
await db.destroy();
