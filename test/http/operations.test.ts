import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { loggerOptions } from '../../src/http/logging.ts';
import { createMetrics, type Metrics } from '../../src/metrics/index.ts';
import { DEMO_PASSWORD, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { Heartbeat } from '../../src/worker/heartbeat.ts';
import { applicant, application, TestClock } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// Issue 10, operations: /healthz, /readyz, /metrics, log bindings and load shedding
// (docs/operations.md). One app with a captured log, its own metrics registry and an engine
// that reports transitions to it; readiness expects a `timers` worker.
let database: TestDatabase;
let app: FastifyInstance;
let metrics: Metrics;
let engine: Engine;
const clock = new TestClock(new Date('2026-06-01T02:00:00Z'));
const lines: string[] = [];
const extraApps: FastifyInstance[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  await seedDemo(database.db);
  metrics = createMetrics({ cacheMs: 0 });
  engine = createEngine({ clock: clock.now, cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS), onTransition: metrics.onTransition });
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  app = await buildApp(
    { db: database.db, engine, sessionHours: 24, metrics, readiness: { workers: ['timers'], heartbeatStaleMs: 60_000, metricsToken: 'scrape-secret' } },
    { logger: loggerOptions('info', stream) },
  );
});
afterAll(async () => {
  await app?.close();
  for (const a of extraApps) await a.close();
  await database?.destroy();
});

async function login(username: string, remoteAddress = '127.0.0.1') {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress, payload: { username, password: DEMO_PASSWORD } });
  expect(res.statusCode, res.body).toBe(200);
  return { authorization: `Bearer ${res.json().token}` };
}

const scrape = async () => {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
};
/** The value of one sample line, e.g. sample(text, 'onewindow_transitions_total{procedure="x",event="y"}'). */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('GET /healthz', () => {
  it('answers without a session', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
  });
});

describe('GET /readyz', () => {
  it('is not ready without a recent heartbeat of the expected worker, ready with one, stale again after the limit', async () => {
    let res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('NOT_READY');
    expect(res.json().details.reasons.map((r: any) => r.reason)).toEqual(['WORKER_STALE']);
    expect(res.json().details.database.ok).toBe(true);
    expect(res.json().details.migrations).toMatchObject({ ok: true, pending: [] });

    const heartbeat = new Heartbeat(database.db, 'test-worker', 'timers', clock.now);
    await heartbeat.tick();
    res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ ready: true, reasons: [], workers: { ok: true, required: ['timers'], kinds: [{ kind: 'timers', live: 1 }] } });

    clock.advance(61_000);
    res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().details.reasons[0]).toMatchObject({ reason: 'WORKER_STALE' });
    expect(res.json().details.reasons[0].message).toContain('61 秒');

    await heartbeat.tick();
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('is not ready while migrations are behind this build', async () => {
    const last = await database.asOwner((db) => db('knex_migrations').orderBy('name', 'desc').first());
    await database.asOwner((db) => db('knex_migrations').where({ id: last.id }).delete());
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().details.migrations).toMatchObject({ ok: false, pending: [last.name] });
      expect(res.json().details.reasons.map((r: any) => r.reason)).toContain('MIGRATIONS_PENDING');
    } finally {
      await database.asOwner((db) => db('knex_migrations').insert(last));
    }
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('is not ready while the process drains for shutdown', async () => {
    const lifecycle = { draining: false };
    const draining = await buildApp({ db: database.db, engine, sessionHours: 1, lifecycle });
    extraApps.push(draining);
    expect((await draining.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    lifecycle.draining = true;
    const res = await draining.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().details.reasons.map((r: any) => r.reason)).toEqual(['SHUTTING_DOWN']);
  });
});

describe('GET /metrics', () => {
  it('is open to loopback and to the token, closed to anyone else', async () => {
    expect((await app.inject({ method: 'GET', url: '/metrics' })).headers['content-type']).toMatch(/^text\/plain/);
    const outside = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.20.30.40' });
    expect(outside.statusCode).toBe(403);
    expect(outside.json().code).toBe('METRICS_FORBIDDEN');
    expect((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.20.30.40', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.20.30.40', headers: { authorization: 'Bearer scrape-secret' } })).statusCode).toBe(200);
  });

  it('counts transitions by procedure and event, latency by route pattern, open tasks, timers, outbox, pool and login failures', async () => {
    const clerk = await login('clerk.beishan');
    const opened = await app.inject({ method: 'POST', url: '/api/cases', headers: { ...clerk, 'idempotency-key': 'metrics-open-1' }, payload: { procedureId: 'social-assistance', applicant, application } });
    expect(opened.statusCode, opened.body).toBe(201);
    const caseId = opened.json().id as string;
    expect((await app.inject({ method: 'GET', url: `/api/cases/${caseId}`, headers: clerk })).statusCode).toBe(200);
    const inbox = await app.inject({ method: 'GET', url: '/api/tasks?pageSize=200', headers: clerk });
    const task = inbox.json().items.find((t: any) => t.caseId === caseId);
    const done = await app.inject({ method: 'POST', url: `/api/tasks/${task.id}/complete`, headers: { ...clerk, 'idempotency-key': 'metrics-complete-1' }, payload: { outcome: task.actions[0].type, data: {} } });
    expect(done.statusCode, done.body).toBe(200);
    const event = task.actions[0].type as string;
    expect((await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: 'wrong-password' } })).statusCode).toBe(401);

    const text = await scrape();
    expect(sample(text, 'onewindow_transitions_total{procedure="social-assistance",event="CASE_OPENED"}')).toBe(1);
    expect(sample(text, `onewindow_transitions_total{procedure="social-assistance",event="${event}"}`)).toBe(1);
    // The route pattern, never the raw URL (it holds ids).
    expect(sample(text, 'onewindow_http_request_duration_seconds_count{method="GET",route="/api/cases/:id",status_class="2xx"}')).toBe(1);
    expect(text).not.toContain(caseId);
    expect(sample(text, 'onewindow_http_request_duration_seconds_count{method="POST",route="/api/tasks/:id/complete",status_class="2xx"}')).toBe(1);
    expect(sample(text, 'onewindow_login_failures_total{reason="INVALID_CREDENTIALS"}')).toBe(1);
    // Database-derived gauges: the new case's open task, its notice in the outbox, its pending timers not yet due.
    expect(text).toMatch(/^onewindow_open_tasks\{department="[a-z-]+",escalation="none"\} [1-9]/m);
    expect(sample(text, 'onewindow_outbox_backlog{kind="notice.accepted"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'onewindow_timer_backlog')).toBe(0);
    expect(sample(text, 'onewindow_timer_lag_seconds')).toBe(0);
    expect(sample(text, 'onewindow_db_pool_connections{state="max"}')).toBeGreaterThanOrEqual(1);
    for (const name of ['onewindow_outbox_oldest_age_seconds', 'onewindow_worker_heartbeat_age_seconds', 'onewindow_process_resident_memory_bytes', 'onewindow_nodejs_eventloop_lag_seconds']) {
      expect(text).toContain(`# TYPE ${name} `);
    }

    // Time passes: the case's earliest timer falls due, and nobody fires it.
    const earliest = await database.db('timers').where({ case_id: caseId, status: 'pending' }).min({ due: 'due_at' }).first();
    clock.current = new Date(new Date(earliest!.due).getTime() + 90_000);
    const later = await scrape();
    expect(sample(later, 'onewindow_timer_backlog')).toBeGreaterThanOrEqual(1);
    expect(sample(later, 'onewindow_timer_lag_seconds')).toBeGreaterThanOrEqual(90);
  });

  it('has every metric the Grafana dashboard and docs/operations.md name', async () => {
    const text = await scrape();
    const names = (source: string) => [...new Set([...source.matchAll(/onewindow_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')))];
    const dashboard = names(readFileSync('docs/operations/grafana-dashboard.json', 'utf8'));
    const documented = names(readFileSync('docs/operations.md', 'utf8')).filter((n) => !n.endsWith('_'));
    expect(dashboard.length).toBeGreaterThan(10);
    for (const name of [...dashboard, ...documented]) expect(text, name).toContain(`# TYPE ${name} `);
  });

  it('counts rate-limit refusals by code and route', async () => {
    const m = createMetrics({ cacheMs: 0, processMetrics: false });
    const strict = await buildApp({ db: database.db, engine, sessionHours: 1, metrics: m, limits: { loginPerAddressPerMinute: 2 } });
    extraApps.push(strict);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await strict.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '10.0.0.77', payload: { username: 'nobody', password: 'x' } })).statusCode);
    }
    expect(statuses).toEqual([401, 401, 429]);
    const text = await m.registry.metrics();
    expect(sample(text, 'onewindow_rate_limit_refusals_total{code="RATE_LIMITED",route="/api/auth/login"}')).toBe(1);
    expect(sample(text, 'onewindow_login_failures_total{reason="INVALID_CREDENTIALS"}')).toBe(2);
    expect(sample(text, 'onewindow_login_failures_total{reason="RATE_LIMITED"}')).toBe(1);
  });
});

describe('logs', () => {
  it('carry the request id on every line, the user id after authentication and the case id once the route names it, and no personal data', async () => {
    const clerk = await login('clerk.xixi');
    const user = await database.db('users').where({ username: 'clerk.xixi' }).first('id');
    const opened = await app.inject({ method: 'POST', url: '/api/cases', headers: { ...clerk, 'idempotency-key': 'log-open-1' }, payload: { procedureId: 'social-assistance', applicant, application } });
    const caseId = opened.json().id as string;
    const inbox = await app.inject({ method: 'GET', url: '/api/tasks?pageSize=200', headers: clerk });
    const task = inbox.json().items.find((t: any) => t.caseId === caseId);
    const before = lines.length;
    const done = await app.inject({ method: 'POST', url: `/api/tasks/${task.id}/complete`, headers: { ...clerk, 'idempotency-key': 'log-complete-1' }, payload: { outcome: task.actions[0].type, data: {} } });
    expect(done.statusCode, done.body).toBe(200);
    const ofRequest = lines.slice(before).map((l) => JSON.parse(l));
    const reqId = ofRequest[0].reqId;
    expect(reqId).toBeTruthy();
    expect(ofRequest.every((l) => l.reqId === reqId)).toBe(true);
    const completed = ofRequest.find((l) => l.msg === 'request completed');
    expect(completed).toMatchObject({ reqId, userId: user.id, caseId, res: { statusCode: 200 } });
    // Only Fastify's "incoming request" line comes before authentication.
    expect(ofRequest.filter((l) => l.userId !== user.id).map((l) => l.msg)).toEqual(['incoming request']);

    // Opening a case: the id is known once the case exists, so the completing line has it.
    const openCompleted = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request completed' && l.caseId === caseId && l.res?.statusCode === 201);
    expect(openCompleted).toMatchObject({ userId: user.id });

    const log = lines.join('');
    for (const secret of [applicant.idNumber, applicant.phone, applicant.bankCard, clerk.authorization.slice(7)]) expect(log).not.toContain(secret);
  });
});

describe('load shedding', () => {
  it('answers 503 OVERLOADED with Retry-After under pressure, but keeps the probes answering', async () => {
    const m = createMetrics({ cacheMs: 0, processMetrics: false });
    // An injected pressure check that always fails stands in for a saturated event loop.
    const shed = await buildApp({ db: database.db, engine, sessionHours: 1, metrics: m, overload: { healthCheck: async () => false, retryAfterSeconds: 7 } });
    extraApps.push(shed);
    const res = await shed.inject({ method: 'GET', url: '/api/cases' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json()).toMatchObject({ code: 'OVERLOADED', message: '系统繁忙，请稍后重试' });
    expect((await shed.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: DEMO_PASSWORD } })).statusCode).toBe(503);

    expect((await shed.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await shed.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().details.reasons.map((r: any) => r.reason)).toEqual(['OVERLOADED']);
    const text = await (await shed.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'onewindow_overload_refusals_total{type="healthCheck"}')).toBe(2);
  });

  it('sheds on a real threshold too (heap limit below what is in use)', async () => {
    const shed = await buildApp({ db: database.db, engine, sessionHours: 1, overload: { maxHeapUsedBytes: 1, sampleIntervalMs: 10 } });
    extraApps.push(shed);
    // The library's own sampler (every 10 ms here) must have run once: poll for it, bounded.
    let status = 0;
    for (let i = 0; i < 200 && status !== 503; i++) {
      status = (await shed.inject({ method: 'GET', url: '/api/procedures' })).statusCode;
      if (status !== 503) await new Promise((r) => setTimeout(r, 10));
    }
    expect(status).toBe(503);
    expect((await shed.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
