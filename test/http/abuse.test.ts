import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/http/abuse.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// The real limits, as production runs them.
const ctx = useTestApp({ limits: LIMITS });
const minutesLater = (m: number) => ctx.clock.advance(m * 60_000);

const track = (reference: string, code: string) => ctx.app.inject({ method: 'GET', url: `/api/track/${reference}?code=${code}` });
const login = (username: string, password: string) => ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });

describe('tracking brute force', () => {
  it('locks a reference after 10 wrong codes, for known and unknown references alike, then lets it go', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const c = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
    const unknown = 'DB-330106001-260302-9999-1';
    for (let i = 0; i < 10; i++) {
      expect((await track(c.reference, `WRONG${i}AA`)).statusCode).toBe(404);
      expect((await track(unknown, `WRONG${i}AA`)).statusCode).toBe(404);
    }
    const lockedKnown = await track(c.reference, c.trackingCode); // even the right code now waits
    const lockedUnknown = await track(unknown, c.trackingCode);
    expect(lockedKnown.statusCode).toBe(429);
    expect(lockedKnown.body).toBe(lockedUnknown.body);
    expect(lockedKnown.json().code).toBe('TEMPORARILY_LOCKED');
    expect(Number(lockedKnown.headers['retry-after'])).toBeGreaterThan(0);

    minutesLater(16);
    expect((await track(c.reference, c.trackingCode)).statusCode).toBe(200);
  });

  it('throttles one client address to 30 tracking requests a minute', async () => {
    minutesLater(2);
    const codes = await Promise.all(Array.from({ length: 31 }, (_, i) => track(`DB-330106001-260302-${String(1000 + i)}-1`, 'AAAAAAAA')));
    expect(codes.map((r) => r.statusCode).filter((s) => s === 429)).toHaveLength(1);
    minutesLater(2);
    expect((await track('DB-330106001-260302-0999-1', 'AAAAAAAA')).statusCode).toBe(404);
  });
});

describe('login', () => {
  it('locks an account after 5 failed passwords, and an unknown name the same way', async () => {
    minutesLater(2);
    for (let i = 0; i < 5; i++) {
      expect((await login('township.beishan', `wrong-${i}`)).statusCode).toBe(401);
      expect((await login('nobody.here', `wrong-${i}`)).statusCode).toBe(401);
    }
    const locked = await login('township.beishan', DEMO_PASSWORD);
    expect(locked.statusCode).toBe(429);
    expect(locked.body).toBe((await login('nobody.here', DEMO_PASSWORD)).body);
    minutesLater(16);
    expect((await login('township.beishan', DEMO_PASSWORD)).statusCode).toBe(200);
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
