import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrustProxy } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { LIMITS } from '../../src/http/abuse.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// The real limits, as production runs them.
const ctx = useTestApp({ limits: LIMITS });
const minutesLater = (m: number) => ctx.clock.advance(m * 60_000);

const track = (reference: string, code: string, from = '192.0.2.10') =>
  ctx.app.inject({ method: 'GET', url: `/api/track/${reference}?code=${code}`, remoteAddress: from });
const login = (username: string, password: string, from = '192.0.2.10') =>
  ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, remoteAddress: from });

async function openCase() {
  const clerk = await ctx.as('clerk.beishan');
  return (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json() as { reference: string; trackingCode: string };
}

describe('tracking brute force', () => {
  it('locks the guessing address on that reference after 10 wrong codes, while the citizen tracks from elsewhere', async () => {
    const c = await openCase();
    const attacker = '203.0.113.1';
    const unknown = 'DB-330106001-260302-9999-1';
    for (let i = 0; i < LIMITS.trackFailuresPerReference; i++) {
      expect((await track(c.reference, `WRONG${i}AA`, attacker)).statusCode).toBe(404);
      expect((await track(unknown, `WRONG${i}AA`, attacker)).statusCode).toBe(404);
    }
    const lockedKnown = await track(c.reference, c.trackingCode, attacker); // even the right code, from the attacker
    const lockedUnknown = await track(unknown, c.trackingCode, attacker);
    expect(lockedKnown.statusCode).toBe(429);
    expect(lockedKnown.body).toBe(lockedUnknown.body); // a lock reveals nothing about the reference
    expect(lockedKnown.json().code).toBe('TEMPORARILY_LOCKED');
    expect(Number(lockedKnown.headers['retry-after'])).toBeGreaterThan(0);

    // The citizen, from another address, with the right code, at the same moment.
    const citizen = await track(c.reference, c.trackingCode, '198.51.100.7');
    expect(citizen.statusCode).toBe(200);
    expect(citizen.json().reference).toBe(c.reference);

    minutesLater(16);
    expect((await track(c.reference, c.trackingCode, attacker)).statusCode).toBe(200);
  });

  it('gives each address 100 wrong codes a day across all references, then stops it everywhere but no one else', async () => {
    const c = await openCase();
    const attacker = '203.0.113.2';
    // Spread over references so no (reference, address) pair locks: only the daily budget can stop this.
    for (let i = 0; i < LIMITS.trackFailuresPerAddressPerDay; i++) {
      if (i % 25 === 0) minutesLater(1.01); // stay under 30 requests a minute
      const ref = `DB-330106001-260302-${String(2000 + Math.floor(i / 5))}-1`;
      expect((await track(ref, 'ZZZZZZZZ', attacker)).statusCode, `guess ${i}`).toBe(404);
    }
    const stopped = await track(c.reference, c.trackingCode, attacker);
    expect(stopped.statusCode).toBe(429);
    expect(stopped.json().code).toBe('TEMPORARILY_LOCKED');
    expect(Number(stopped.headers['retry-after'])).toBeGreaterThan(20 * 3600);
    expect((await track(c.reference, c.trackingCode, '198.51.100.8')).statusCode).toBe(200);
    minutesLater(24 * 60);
    expect((await track(c.reference, c.trackingCode, attacker)).statusCode).toBe(200);
  });

  it('throttles one client address to 30 tracking requests a minute', async () => {
    minutesLater(2);
    const codes = await Promise.all(Array.from({ length: 31 }, (_, i) => track(`DB-330106001-260302-${String(1000 + i)}-1`, 'AAAAAAAA', '203.0.113.3')));
    expect(codes.map((r) => r.statusCode).filter((s) => s === 429)).toHaveLength(1);
    expect((await track('DB-330106001-260302-0999-1', 'AAAAAAAA', '198.51.100.9')).statusCode).toBe(404); // others unaffected
    minutesLater(2);
    expect((await track('DB-330106001-260302-0999-1', 'AAAAAAAA', '203.0.113.3')).statusCode).toBe(404);
  });
});

describe('login', () => {
  it('locks the failing address on that account after 5 wrong passwords; the user logs in from elsewhere', async () => {
    minutesLater(2);
    const attacker = '203.0.113.4';
    for (let i = 0; i < LIMITS.loginFailuresPerUsername; i++) {
      expect((await login('township.beishan', `wrong-${i}`, attacker)).statusCode).toBe(401);
      expect((await login('nobody.here', `wrong-${i}`, attacker)).statusCode).toBe(401);
    }
    const locked = await login('township.beishan', DEMO_PASSWORD, attacker);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('TEMPORARILY_LOCKED');
    expect(locked.body).toBe((await login('nobody.here', DEMO_PASSWORD, attacker)).body); // unknown names lock alike
    // The rightful user, from their own address, while the attacker is locked out.
    const rightful = await login('township.beishan', DEMO_PASSWORD, '198.51.100.10');
    expect(rightful.statusCode).toBe(200);
    expect(rightful.json().user.name).toBeTruthy();
    // The lock is the pair's only: the attacker's address can still sign in to another account.
    expect((await login('township.xixi', DEMO_PASSWORD, attacker)).statusCode).toBe(200);
    minutesLater(16);
    expect((await login('township.beishan', DEMO_PASSWORD, attacker)).statusCode).toBe(200);
  });

  it('gives each address 50 failed logins a day across all usernames, and a success does not reset it', async () => {
    const attacker = '203.0.113.5';
    for (let i = 0; i < LIMITS.loginFailuresPerAddressPerDay; i++) {
      if (i % 15 === 0) minutesLater(1.01); // stay under 20 requests a minute
      // Four tries per name: never the five that lock a pair. A login to the attacker's own account between them must not help.
      if (i % 10 === 5) expect((await login('clerk.xixi', DEMO_PASSWORD, attacker)).statusCode).toBe(200);
      expect((await login(`staff.${Math.floor(i / 4)}`, 'guess', attacker)).statusCode, `guess ${i}`).toBe(401);
    }
    const stopped = await login('verify.xihu', DEMO_PASSWORD, attacker);
    expect(stopped.statusCode).toBe(429);
    expect(stopped.json().code).toBe('TEMPORARILY_LOCKED');
    expect((await login('verify.xihu', DEMO_PASSWORD, '198.51.100.11')).statusCode).toBe(200);
  });

  it('throttles an address before the body is read: the 21st login in a minute is 429 even with a body that would not parse', async () => {
    minutesLater(2);
    const from = '203.0.113.6';
    for (let i = 0; i < LIMITS.loginPerAddressPerMinute; i++) {
      const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: from, headers: { 'content-type': 'application/json' }, payload: '['.repeat(80_000) });
      expect(res.json().code).toBe('BODY_TOO_DEEP');
    }
    const throttled = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: from, headers: { 'content-type': 'application/json' }, payload: '{not json' });
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json().code).toBe('RATE_LIMITED');
  });
});

describe('client address behind a reverse proxy (TRUST_PROXY)', () => {
  const proxy = '10.0.0.5';
  let behindProxy: FastifyInstance;
  beforeAll(async () => {
    behindProxy = await buildApp({ db: ctx.database.db, engine: ctx.engine, sessionHours: 1, limits: LIMITS }, { trustProxy: parseTrustProxy(`${proxy},10.1.0.0/16`) || undefined });
  });
  afterAll(() => behindProxy?.close());
  const via = (app: FastifyInstance, remoteAddress: string, forwardedFor: string, password: string) =>
    app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress, headers: { 'x-forwarded-for': forwardedFor }, payload: { username: 'county.xihu', password } });

  it('takes the client from X-Forwarded-For only when the socket is a trusted proxy', async () => {
    minutesLater(20);
    for (let i = 0; i < LIMITS.loginFailuresPerUsername; i++) expect((await via(behindProxy, proxy, '203.0.113.20', 'wrong')).statusCode).toBe(401);
    expect((await via(behindProxy, proxy, '203.0.113.20', DEMO_PASSWORD)).statusCode).toBe(429); // that client is locked…
    expect((await via(behindProxy, proxy, '203.0.113.21', DEMO_PASSWORD)).statusCode).toBe(200); // …not the proxy's other clients
    expect((await via(behindProxy, '10.1.4.4', '203.0.113.21', DEMO_PASSWORD)).statusCode).toBe(200); // a trusted CIDR

    // A client that is not a trusted proxy cannot pick a fresh address per attempt.
    for (let i = 0; i < LIMITS.loginFailuresPerUsername; i++) expect((await via(behindProxy, '198.51.100.30', `203.0.113.${100 + i}`, 'wrong')).statusCode).toBe(401);
    expect((await via(behindProxy, '198.51.100.30', '203.0.113.199', DEMO_PASSWORD)).statusCode).toBe(429);
    // Without TRUST_PROXY (the default) nobody's header counts, a proxy's included.
    for (let i = 0; i < LIMITS.loginFailuresPerUsername; i++) expect((await via(ctx.app, proxy, `203.0.113.${150 + i}`, 'wrong')).statusCode).toBe(401);
    expect((await via(ctx.app, proxy, '203.0.113.198', DEMO_PASSWORD)).statusCode).toBe(429);
  });

  it('is a list of addresses or CIDRs; "true" and hop counts are refused', () => {
    expect(parseTrustProxy(undefined)).toBe(false);
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy(' 10.0.0.5, 10.1.0.0/16 ,::1,loopback')).toEqual(['10.0.0.5', '10.1.0.0/16', '::1', 'loopback']);
    expect(() => parseTrustProxy('true')).toThrow(/TRUST_PROXY/);
    expect(() => parseTrustProxy('2')).toThrow(/TRUST_PROXY/);
    expect(() => parseTrustProxy('10.0.0.0/33')).toThrow(/TRUST_PROXY/);
    expect(() => parseTrustProxy('proxy.example')).toThrow(/TRUST_PROXY/);
  });
});

describe('every response', () => {
  it('carries security headers, and bodies have a size limit', async () => {
    for (const url of ['/api/procedures', '/api/nothing-here', '/docs/json']) {
      const res = await ctx.app.inject({ method: 'GET', url });
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      expect(res.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
    }
    expect((await ctx.app.inject({ method: 'GET', url: '/api/procedures' })).headers['cache-control']).toBe('no-store');
    const huge = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'x'.repeat(300 * 1024), password: 'y' } });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ code: 'BODY_TOO_LARGE', message: '请求内容过大' });
  });
});
