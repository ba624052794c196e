import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { loggerOptions } from '../../src/http/logging.ts';
import { DevSinkChannel, HttpGatewayChannel, type NoticeChannel } from '../../src/notifications/channels.ts';
import { NoticeDispatcher } from '../../src/notifications/dispatcher.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { applicant, application, useTestApp } from '../support/app.ts';
import { FakeSmsGateway } from '../support/smsGateway.ts';

// The admin API of citizen notices: the queue with its dead letters, retry and discard, the
// development sink's messages; admins only, whatever the body; and no phone number in any log.
const ctx = useTestApp();
const db = () => ctx.database.db;
const failing: NoticeChannel = { name: 'test-failing', send: async () => ({ ok: false, retryable: false, error: 'gateway HTTP 400: invalid number' }) };

const dispatch = (channel: NoticeChannel, log?: (msg: string, extra?: object) => void) =>
  new NoticeDispatcher({ db: db(), cipher: ctx.engine.cipher, clock: ctx.clock.now, channel, publicBaseUrl: 'http://127.0.0.1:3000', log }).runOnce();

async function openCase(clerk: string) {
  const res = await (await ctx.as(clerk)).post('/api/cases', { procedureId: 'social-assistance', applicant, application });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; reference: string; trackingCode: string };
}

let beishan: { id: string; reference: string; trackingCode: string };
let xixi: { id: string; reference: string; trackingCode: string };
let deadBeishan: string;
let deadXixi: string;

beforeAll(async () => {
  // Two dead letters (one per township), then a delivered notice through the dev sink.
  beishan = await openCase('clerk.beishan');
  xixi = await openCase('clerk.xixi');
  expect(await dispatch(failing)).toMatchObject({ dead: 2 });
  deadBeishan = String((await db()('notices').where({ case_id: beishan.id }).first()).id);
  deadXixi = String((await db()('notices').where({ case_id: xixi.id }).first()).id);
  await openCase('clerk.beishan');
  expect(await dispatch(new DevSinkChannel({ db: db(), cipher: ctx.engine.cipher, clock: ctx.clock.now }))).toMatchObject({ sent: 1 });
  // A township admin, to prove the region boundary.
  const admin = await ctx.as('admin.xihu');
  const created = await admin.post('/api/admin/users', { username: 'admin.beishan', displayName: '北山管理员', regionCode: '330106001', department: 'administration', roles: ['admin'], password: DEMO_PASSWORD });
  expect(created.statusCode, created.body).toBe(201);
});

describe('who may use it', () => {
  it('refuses everyone but admins with 403, whatever the body', async () => {
    for (const user of ['clerk.beishan', 'township.beishan', 'supervisor.xihu']) {
      const c = await ctx.as(user);
      const calls = [
        c.get('/api/admin/notices'),
        c.get('/api/admin/notices?status=bogus'),
        c.get('/api/admin/notices/sink-messages'),
        c.post(`/api/admin/notices/${deadBeishan}/retry`, { nonsense: true }),
        c.post(`/api/admin/notices/${deadBeishan}/discard`, {}),
        c.post('/api/admin/notices/not-a-number/discard', { reason: 'x'.repeat(5000) }),
      ];
      for (const res of await Promise.all(calls)) {
        expect(res.statusCode, `${user} ${res.body}`).toBe(403);
        expect(res.json().code).toBe('ROLE_REQUIRED');
      }
    }
    expect((await ctx.app.inject({ method: 'GET', url: '/api/admin/notices' })).statusCode).toBe(401);
    expect((await db()('notices').where({ id: deadBeishan }).first()).status).toBe('dead');
  });
});

describe('the queue', () => {
  it('lists by status and kind, newest first, in keyset pages with counts per status', async () => {
    const admin = await ctx.as('admin.xihu');
    const dead = await admin.get('/api/admin/notices?status=dead');
    expect(dead.statusCode, dead.body).toBe(200);
    expect(dead.json().items.map((n: any) => n.id)).toEqual([deadXixi, deadBeishan]);
    expect(dead.json().items[0]).toMatchObject({ kind: 'accepted', kindLabel: '受理登记', status: 'dead', statusLabel: '投递失败', attempts: 1, reference: xixi.reference, lastError: 'gateway HTTP 400: invalid number' });
    expect(dead.json().counts).toMatchObject({ dead: { count: 2, exact: true }, sent: { count: 1 }, pending: { count: 0 } });

    const all = (await admin.get('/api/admin/notices')).json();
    expect(all.total).toBe(3);
    expect(all.counts).toMatchObject({ dead: { count: 2 }, sent: { count: 1 }, pending: { count: 0 } });
    expect((await admin.get('/api/admin/notices?kind=payment')).json().total).toBe(0);
    expect((await admin.get(`/api/admin/notices?caseId=${beishan.id}`)).json().items.map((n: any) => n.id)).toEqual([deadBeishan]);

    const first = (await admin.get('/api/admin/notices?pageSize=2')).json();
    expect(first.items).toHaveLength(2);
    const second = (await admin.get(`/api/admin/notices?pageSize=2&cursor=${first.nextCursor}`)).json();
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect(new Set([...first.items, ...second.items].map((n: any) => n.id)).size).toBe(3);

    const bad = await admin.get('/api/admin/notices?cursor=abc&kind=fax');
    expect(bad.statusCode).toBe(422);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
  });

  it('shows an admin only the notices of their region and below', async () => {
    const township = await ctx.as('admin.beishan');
    const items = (await township.get('/api/admin/notices')).json().items;
    expect(items.every((n: any) => n.reference.includes('330106001'))).toBe(true);
    expect(items.map((n: any) => n.id)).not.toContain(deadXixi);
    const other = await township.post(`/api/admin/notices/${deadXixi}/retry`, {});
    expect(other.statusCode).toBe(404);
    expect((await db()('notices').where({ id: deadXixi }).first()).status).toBe('dead');
  });

  it('the development sink shows what it sent, number masked', async () => {
    const res = await (await ctx.as('admin.xihu')).get('/api/admin/notices/sink-messages');
    expect(res.statusCode, res.body).toBe(200);
    const [m] = res.json().items;
    expect(m.recipient).toBe('138****8000');
    expect(m.text).toMatch(/^【一窗通办】您的低保申请已登记，受理编号DB-330106001-/);
    expect(res.body).not.toContain(applicant.phone);
  });
});

describe('dead letters', () => {
  it('retry puts one back in the queue with its key, and it is then delivered; a second retry is 409', async () => {
    const admin = await ctx.as('admin.xihu');
    const key = (await db()('notices').where({ id: deadBeishan }).first()).idempotency_key;
    const res = await admin.post(`/api/admin/notices/${deadBeishan}/retry`, { note: '号码已核实' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'pending', attempts: 0, resolution: '重新发送：号码已核实' });
    const again = await admin.post(`/api/admin/notices/${deadBeishan}/retry`, {});
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('NOTICE_NOT_DEAD');

    const gateway = await new FakeSmsGateway().start();
    try {
      expect(await dispatch(new HttpGatewayChannel({ url: gateway.url, timeoutMs: 2000 }))).toMatchObject({ sent: 1 });
      expect(gateway.requests.map((r) => r.idempotencyKey)).toEqual([key]);
    } finally {
      await gateway.stop();
    }
    expect((await admin.get(`/api/admin/notices?caseId=${beishan.id}`)).json().items[0]).toMatchObject({ status: 'sent', channel: 'http-gateway' });
  });

  it('discard records who and why, and the notice is never sent', async () => {
    const admin = await ctx.as('admin.xihu');
    expect((await admin.post(`/api/admin/notices/${deadXixi}/discard`, {})).statusCode).toBe(422);
    const res = await admin.post(`/api/admin/notices/${deadXixi}/discard`, { reason: '申请人已到窗口领取回执' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'discarded', statusLabel: '已放弃', resolution: '放弃：申请人已到窗口领取回执' });
    expect((await db()('notices').where({ id: deadXixi }).first()).resolved_by).toBeTruthy();
    ctx.clock.advance(7 * 86_400_000);
    expect(await dispatch(failing)).toMatchObject({ claimed: 0 });
    expect((await admin.post(`/api/admin/notices/${deadXixi}/discard`, { reason: '再次放弃' })).json().code).toBe('NOTICE_NOT_DEAD');
    expect((await admin.post('/api/admin/notices/999999/retry', {})).statusCode).toBe(404);
  });
});

describe('the logs', () => {
  const lines: string[] = [];
  let logged: FastifyInstance;
  beforeAll(async () => {
    const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    logged = await buildApp({ db: db(), engine: ctx.engine, sessionHours: 1 }, { logger: loggerOptions('trace', stream) });
  });
  afterAll(() => logged?.close());

  it('never hold a phone number or tracking code while notices are written, fail, are retried and delivered', async () => {
    const token = (await logged.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: DEMO_PASSWORD } })).json().token;
    const opened = await logged.inject({ method: 'POST', url: '/api/cases', headers: { authorization: `Bearer ${token}` }, payload: { procedureId: 'social-assistance', applicant, application } });
    expect(opened.statusCode).toBe(201);
    const gateway = await new FakeSmsGateway().start();
    // The service's logger is the dispatcher's log, as in main.ts.
    const log = (msg: string, extra?: object) => logged.log.info(extra ?? {}, msg);
    try {
      gateway.respond = (r, n) => (n === 1 ? { status: 502, body: `bad upstream for ${r.body.to} / +86${r.body.to}` } : { status: 200 });
      const channel = new HttpGatewayChannel({ url: gateway.url, timeoutMs: 2000 });
      expect(await dispatch(channel, log)).toMatchObject({ retrying: 1 });
      ctx.clock.advance(60_000);
      expect(await dispatch(channel, log)).toMatchObject({ sent: 1 });
      // An unreachable gateway too.
      await logged.inject({ method: 'POST', url: '/api/cases', headers: { authorization: `Bearer ${token}` }, payload: { procedureId: 'social-assistance', applicant, application } });
      expect(await dispatch(new HttpGatewayChannel({ url: 'http://127.0.0.1:1/sms', timeoutMs: 500 }), log)).toMatchObject({ retrying: 1 });
      expect(gateway.requests.at(-1)!.body.to).toBe(applicant.phone); // it did carry the number
    } finally {
      await gateway.stop();
    }
    const admin = (await logged.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin.xihu', password: DEMO_PASSWORD } })).json().token;
    await logged.inject({ method: 'GET', url: '/api/admin/notices', headers: { authorization: `Bearer ${admin}` } });
    await logged.inject({ method: 'GET', url: '/api/admin/notices/sink-messages', headers: { authorization: `Bearer ${admin}` } });

    const text = lines.join('');
    expect(text).toContain('notice delivery failed, will retry');
    const errors = (await db()('notices').whereNotNull('last_error').select('last_error')).map((r) => r.last_error).join('\n');
    expect(text).toContain('HTTP 502'); // the gateway's answer, redacted
    expect(errors).toContain('gateway unreachable');
    for (const secret of [applicant.phone, opened.json().trackingCode]) {
      expect(text, secret).not.toContain(secret);
      expect(errors, secret).not.toContain(secret);
    }
  });
});
