import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_OPTIONS, oneWindowApp } from '../../src/http/app.ts';
import net from 'node:net';
import { LIMITS } from '../../src/http/abuse.ts';
import type { Actor } from '../../src/engine/engine.ts';
import { seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { gracefulShutdown } from '../../src/shutdown.ts';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { NoticeDispatcher } from '../../src/notifications/dispatcher.ts';
import type { NoticeChannel, OutgoingSms } from '../../src/notifications/channels.ts';
import { applicant, application } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// Issue 10, shutdown: loops hand back what they leased but did not fire, in-flight requests
// finish while the server closes, and the pool closes last (src/shutdown.ts).
const NOW = new Date('2026-06-01T02:00:00Z');
const engine = createEngine({ clock: () => NOW, cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  await seedDemo(database.db);
});
afterAll(() => database?.destroy());

/** A case whose acceptance task has `n` warning timers already due. */
async function dueTimers(n: number): Promise<string[]> {
  const db = database.db;
  const u = await db('users').where({ username: 'clerk.beishan' }).first();
  const clerk: Actor = { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
  const { id } = await db.transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant, application }));
  const task = await db('tasks').where({ case_id: id }).first();
  const rows = Array.from({ length: n }, (_, k) => ({ case_id: id, task_id: task.id, state_id: task.state_id, kind: 'warn', event_type: 'DEADLINE_WARNING', due_at: new Date(NOW.getTime() - (k + 1) * 60_000), created_at: NOW }));
  if (!rows.length) return [];
  const inserted = await db('timers').insert(rows).returning('id');
  return inserted.map((r: { id: string | number }) => String(r.id));
}

describe('stopping the timer worker', () => {
  it('releases timers it claimed but did not fire, so another worker fires them at once', async () => {
    const ids = await dueTimers(3);
    let claimed: string[] = [];
    let stopping: Promise<void> | undefined;
    const worker = new TimerWorker({
      db: database.db,
      engine,
      workerId: 'stopping-worker',
      leaseMs: 10 * 60_000,
      // SIGTERM arrives right after the claim, before anything fired.
      afterClaim: (got) => {
        claimed = got;
        stopping ??= worker.stop();
      },
    });
    worker.start();
    await new Promise<void>((resolve) => {
      const poll = () => (stopping ? resolve() : setImmediate(poll));
      poll();
    });
    await stopping;
    expect(claimed.sort()).toEqual(expect.arrayContaining(ids.sort()));

    const rows = await database.db('timers').whereIn('id', ids);
    // Pending, no lease, the attempt not counted: exactly as before the claim.
    expect(rows.map((r) => [r.status, r.locked_until, r.attempts])).toEqual(ids.map(() => ['pending', null, 0]));
    // A stopped loop leaves no heartbeat behind (readiness must not count it).
    expect(await database.db('worker_heartbeats').where({ worker_id: 'stopping-worker' }).first()).toBeUndefined();

    // Same instant, so no lease could have run out: the other worker takes them only because they were released.
    const other = new TimerWorker({ db: database.db, engine, workerId: 'other-worker' });
    const r = await other.runOnce();
    expect(r.fired).toBeGreaterThanOrEqual(ids.length);
    expect((await database.db('timers').whereIn('id', ids)).every((t) => t.status === 'fired')).toBe(true);
  });
});

describe('stopping the notice dispatcher', () => {
  it('sends the notice in hand, releases the rest of its batch, and another dispatcher sends them at once', async () => {
    // Three new cases: three acceptance notices (notice.accepted) in the outbox.
    for (let i = 0; i < 3; i++) await dueTimers(0);
    const sent: OutgoingSms[] = [];
    let stopping: Promise<void> | undefined;
    let dispatcher: NoticeDispatcher;
    const channel: NoticeChannel = {
      name: 'test',
      async send(sms) {
        sent.push(sms);
        // SIGTERM arrives while the first message of the batch is being sent.
        stopping ??= dispatcher.stop();
        return { ok: true, providerMessageId: `m${sent.length}` };
      },
    };
    const common = { db: database.db, cipher: engine.cipher, publicBaseUrl: 'https://ywt.example.gov.cn', clock: () => NOW, leaseMs: 10 * 60_000 };
    dispatcher = new NoticeDispatcher({ ...common, channel, workerId: 'stopping-dispatcher' });
    dispatcher.start();
    await new Promise<void>((resolve) => {
      const poll = () => (stopping ? resolve() : setImmediate(poll));
      poll();
    });
    await stopping;
    expect(sent).toHaveLength(1);
    const pending = await database.db('notices').where({ status: 'pending' });
    expect(pending.length).toBeGreaterThanOrEqual(2);
    expect(pending.every((n) => n.locked_until === null)).toBe(true);
    expect(await database.db('worker_heartbeats').where({ worker_id: 'stopping-dispatcher' }).first()).toBeUndefined();

    const others: OutgoingSms[] = [];
    const other = new NoticeDispatcher({ ...common, workerId: 'other-dispatcher', channel: { name: 'test', send: async (sms) => (others.push(sms), { ok: true, providerMessageId: null }) } });
    const r = await other.runOnce();
    expect(r.sent).toBe(pending.length);
    expect(others.map((m) => m.noticeId).sort()).toEqual(pending.map((n) => String(n.id)).sort());
  });
});

describe('graceful shutdown of the service', () => {
  let app: FastifyInstance;
  let entered: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  let release: () => void;
  const gate = new Promise<void>((r) => (release = r));

  beforeAll(async () => {
    app = Fastify(SERVER_OPTIONS);
    await app.register(oneWindowApp, { db: database.db, engine, sessionHours: 1, limits: LIMITS });
    // A request that is in flight when SIGTERM comes: it waits for the test, then uses the database.
    app.get('/slow', { config: { public: true, probe: true } }, async () => {
      entered();
      await gate;
      const { rows } = await database.db.raw('select 1 as one');
      return { one: rows[0].one };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
  });

  it('stops accepting, finishes the request in flight, stops the loops, then closes the pool', async () => {
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const slow = fetch(`${base}/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await inHandler;

    const stopped: string[] = [];
    const lifecycle = { draining: false };
    const loop = { stop: async () => void stopped.push('loop') };
    const done = gracefulShutdown({ app, lifecycle, loops: [loop], db: database.db, timeoutMs: 30_000 });
    expect(lifecycle.draining).toBe(true);
    // The listening socket closes at once (bounded wait for Fastify's onClose to reach it).
    for (let i = 0; i < 1000 && app.server.listening; i++) await new Promise((r) => setImmediate(r));
    expect(app.server.listening).toBe(false);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    expect(stopped).toEqual(['loop']);

    // The pool is still open for the request in flight, which completes normally.
    release();
    expect(await slow).toEqual({ status: 200, body: { one: 1 } });
    expect(await done).toBe('clean');
    // …and closed after it.
    expect((database.db.client as { pool?: unknown }).pool).toBeFalsy();
  });
});

describe('a request that arrives while the service drains', () => {
  it('is refused in the API error format (503 SERVICE_UNAVAILABLE, Retry-After, Connection: close), after the one in flight', async () => {
    const app = Fastify(SERVER_OPTIONS);
    await app.register(oneWindowApp, { db: database.db, engine, sessionHours: 1, limits: LIMITS });
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    app.get('/slow', { config: { public: true, probe: true } }, async () => {
      entered();
      await gate;
      return { ok: true };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;

    // One keep-alive connection: the first request is in flight when the drain starts, the second
    // arrives on the same (busy, so not reaped) connection during the drain.
    const socket = net.connect(port, '127.0.0.1');
    let raw = '';
    socket.setEncoding('utf8').on('data', (d) => (raw += d));
    const ended = new Promise<void>((r) => socket.on('close', () => r()));
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await inHandler;
    const done = gracefulShutdown({ app, loops: [], db: { destroy: async () => {} } as never, timeoutMs: 30_000 });
    for (let i = 0; i < 1000 && app.server.listening; i++) await new Promise((r) => setImmediate(r));
    socket.write('GET /api/auth/me HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    release();
    await ended;
    expect(await done).toBe('clean');

    const answers = raw.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200/);
    const [head, body] = answers[1].split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503/);
    expect(head).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(head).toMatch(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(body)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: '服务暂时繁忙或不可用，请稍后重试' });
  });
});
