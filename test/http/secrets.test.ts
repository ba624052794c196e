import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { loggerOptions, redactUrl } from '../../src/http/logging.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

/**
 * B6 of issue 13: tracking codes, ID numbers and phone numbers reach neither the service log nor
 * the database in plaintext, and idempotency keys expire without any worker.
 */
const ctx = useTestApp();
const db = () => ctx.database.db;

describe('the service log', () => {
  const lines: string[] = [];
  let logged: FastifyInstance;
  beforeAll(async () => {
    const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    // The logger configuration main.ts uses, at its most verbose.
    logged = await buildApp({ db: db(), engine: ctx.engine, sessionHours: 1 }, { logger: loggerOptions('trace', stream) });
  });
  afterAll(() => logged?.close());

  it('holds no tracking code, ID number, phone number, password or token while a case is opened and tracked', async () => {
    const login = await logged.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'clerk.beishan', password: DEMO_PASSWORD } });
    const token = login.json().token as string;
    const auth = { authorization: `Bearer ${token}` };
    const opened = await logged.inject({ method: 'POST', url: '/api/cases', headers: { ...auth, 'idempotency-key': 'log-test-1' }, payload: { procedureId: 'social-assistance', applicant, application } });
    expect(opened.statusCode).toBe(201);
    const { reference, trackingCode, id } = opened.json();
    expect((await logged.inject({ method: 'GET', url: `/api/track/${reference}?code=${trackingCode}` })).statusCode).toBe(200);
    expect((await logged.inject({ method: 'GET', url: `/api/track/${reference}?lang=zh&code=${trackingCode.toLowerCase()}` })).statusCode).toBe(200);
    // Personal data in a URL, where a client might put it: path, query, percent-encoded.
    await logged.inject({ method: 'GET', url: `/api/cases?idNumber=${applicant.idNumber}&phone=${applicant.phone}`, headers: auth });
    await logged.inject({ method: 'GET', url: `/api/nothing/${applicant.idNumber}/${encodeURIComponent(`+86 ${applicant.phone}`)}` });
    await logged.inject({ method: 'GET', url: `/api/cases/${id}`, headers: auth });

    const log = lines.join('');
    expect(log).toContain('incoming request');
    expect(log).toContain(`/api/track/${reference}?code=[REDACTED]`); // the reference stays: it identifies the request, not the person
    for (const secret of [trackingCode, trackingCode.toLowerCase(), applicant.idNumber, applicant.phone, applicant.bankCard, DEMO_PASSWORD, token]) {
      expect(log, secret).not.toContain(secret);
    }
  });
});

describe('redactUrl', () => {
  it('masks secret parameters and ID- or phone-like values, and leaves ordinary URLs alone', () => {
    expect(redactUrl('/api/track/DB-330106001-260302-0001-7?code=PY5WCZX7')).toBe('/api/track/DB-330106001-260302-0001-7?code=[REDACTED]');
    expect(redactUrl('/x?access_token=abc&page=2&Code=Q')).toBe('/x?access_token=[REDACTED]&page=2&Code=[REDACTED]');
    expect(redactUrl('/api/cases/11010519491231002X/events')).toBe('/api/cases/[REDACTED]/events');
    expect(redactUrl('/a?q=%E5%BC%A0+13800138000')).not.toContain('13800138000');
    expect(redactUrl('/a?q=%31%33%38%30%30%31%33%38%30%30%30')).toBe('/a?q=[REDACTED]'); // percent-encoded digits
    const plain = '/api/tasks?status=open&page=2&pageSize=20&procedure=social-assistance';
    expect(redactUrl(plain)).toBe(plain);
    const uuid = '/api/cases/6f1c2a9e-1380-4013-8000-138001380001';
    expect(redactUrl(uuid)).toBe(uuid); // a 12-digit group is neither a phone nor an ID
  });
});

describe('stored idempotent responses', () => {
  it('hold no tracking code in plaintext, and a replay returns the same body', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const send = () =>
      ctx.app.inject({ method: 'POST', url: '/api/cases', headers: { authorization: `Bearer ${clerk.token}`, 'idempotency-key': 'window-3-ticket-9' }, payload: { procedureId: 'social-assistance', applicant, application } });
    const first = await send();
    expect(first.statusCode).toBe(201);
    const { trackingCode } = first.json();
    const raw = await db().raw(`select response::text as response, status_code from idempotency_keys where key = 'window-3-ticket-9'`);
    expect(raw.rows).toHaveLength(1);
    expect(raw.rows[0].response).not.toContain(trackingCode);
    expect(raw.rows[0].response).not.toContain(first.json().reference);
    expect(raw.rows[0].response).toMatch(/^"enc:v1:/);

    const replay = await send();
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(first.json());
  });

  it('expire after 24 hours: an old key counts as absent and is purged with no worker running', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const open = (key: string) =>
      ctx.app.inject({ method: 'POST', url: '/api/cases', headers: { authorization: `Bearer ${clerk.token}`, 'idempotency-key': key }, payload: { procedureId: 'social-assistance', applicant, application } });
    const first = await open('expiring-key');
    const other = await open('expiring-other');
    expect([first.statusCode, other.statusCode]).toEqual([201, 201]);
    ctx.clock.advance(25 * 3_600_000);

    // The same key a day later is a new request, not a replay.
    const again = await open('expiring-key');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.json().id).not.toBe(first.json().id);
    // …and the service itself purged the other expired key on the way (there is no worker in this test).
    const left = (await db()('idempotency_keys').where({ key: 'expiring-other' })).length;
    expect(left).toBe(0);
    expect(await db()('idempotency_keys').where({ key: 'expiring-key' }).first()).toBeTruthy();
  });
});
