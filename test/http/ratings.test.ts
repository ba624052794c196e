import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/http/abuse.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// The public rating endpoint (好差评), with the real limits: it is as hard to guess through as tracking.
const ctx = useTestApp({ limits: LIMITS });
const minutesLater = (m: number) => ctx.clock.advance(m * 60_000);

const offline = { attitude: 'satisfied', efficiency: 'satisfied', guidance: 'satisfied', environment: 'satisfied' };
const rate = (reference: string, body: Record<string, unknown>, from = '192.0.2.20') =>
  ctx.app.inject({
    method: 'POST',
    url: `/api/track/${reference}/ratings`,
    payload: { stage: 'acceptance', channel: 'offline', level: 'satisfied', indicators: offline, ...body },
    remoteAddress: from,
  });

async function openCase() {
  const clerk = await ctx.as('clerk.beishan');
  return (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json() as { id: string; reference: string; trackingCode: string };
}

describe('POST /api/track/{reference}/ratings', () => {
  it('answers a wrong code and an unknown reference identically, and counts them as failed tracking', async () => {
    const c = await openCase();
    const attacker = '203.0.113.21';
    const wrong = await rate(c.reference, { code: 'WRONGAAA' }, attacker);
    const unknown = await rate('DB-330106001-260302-9999-1', { code: c.trackingCode }, attacker);
    expect(wrong.statusCode).toBe(404);
    expect(wrong.body).toBe(unknown.body);
    expect(wrong.json()).toEqual({ code: 'TRACKING_NOT_FOUND', message: '未查询到办件，请核对受理编号和查询码' });
    // Nothing was written for the wrong code.
    expect(await ctx.database.db('case_events').where({ case_id: c.id, type: 'CASE_RATED' })).toHaveLength(0);

    for (let i = 1; i < LIMITS.trackFailuresPerReference; i++) expect((await rate(c.reference, { code: `WRONG${i}AA` }, attacker)).statusCode).toBe(404);
    // Locked on that reference from that address — the right code too, and tracking as well.
    const locked = await rate(c.reference, { code: c.trackingCode }, attacker);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('TEMPORARILY_LOCKED');
    expect((await ctx.app.inject({ method: 'GET', url: `/api/track/${c.reference}?code=${c.trackingCode}`, remoteAddress: attacker })).statusCode).toBe(429);
    // The citizen elsewhere rates.
    const citizen = await rate(c.reference, { code: c.trackingCode.toLowerCase() }, '198.51.100.21');
    expect(citizen.statusCode, citizen.body).toBe(201);
    expect(citizen.json()).toMatchObject({ stage: 'acceptance', level: 'satisfied', rectification: false });
  });

  it('refuses bad levels, stages, channels and indicators with 422 and field paths', async () => {
    minutesLater(2);
    const c = await openCase();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ level: 'excellent' }, 'level'],
      [{ stage: 'payment' }, 'stage'],
      [{ indicators: { ...offline, attitude: 'good' } }, 'indicators.attitude'],
      [{ indicators: { attitude: 'satisfied' } }, 'indicators.efficiency'],
      [{ channel: 'online' }, 'indicators.usability'], // the online indicators differ
      [{ comment: '长'.repeat(501) }, 'comment'],
    ];
    for (const [body, path] of cases) {
      const res = await rate(c.reference, { code: c.trackingCode, ...body });
      expect(res.statusCode, JSON.stringify(body)).toBe(422);
      expect(res.json().code).toBe('VALIDATION_FAILED');
      expect(res.json().details.map((d: any) => d.path).join(' '), JSON.stringify(body)).toContain(path);
    }
    const level = await rate(c.reference, { code: c.trackingCode, level: 'excellent' });
    expect(level.json().message).toMatch(/[\u4e00-\u9fa5]/);
    expect(await ctx.database.db('case_events').where({ case_id: c.id, type: 'CASE_RATED' })).toHaveLength(0);
  });

  it('throttles one address like tracking (30 a minute)', async () => {
    minutesLater(2);
    const codes = await Promise.all(Array.from({ length: 31 }, (_, i) => rate(`DB-330106001-260302-${String(3000 + i)}-1`, { code: 'AAAAAAAA' }, '203.0.113.23')));
    expect(codes.map((r) => r.statusCode).filter((s) => s === 429)).toHaveLength(1);
    expect(codes.find((r) => r.statusCode === 429)!.json().code).toBe('RATE_LIMITED');
  });
});
