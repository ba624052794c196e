import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.ts';

// Issue 8 defect: a clerk calling PUT /api/admin/calendars/:year got 422 (the body's validation)
// instead of 403. Every operation the OpenAPI document tags `admin` is walked — so operations
// added later are covered — with callers who lack the role and bodies, queries and ids that
// would each fail validation: the answer is always 403 ROLE_REQUIRED (401 without a token).
const ctx = useTestApp();

const MALFORMED_BODIES = ['{"regionCode":{"$ne":null},"holidays":"all","extra":[1,[2,[3]]]}', '[]', '"text"', '{'];

async function adminOperations() {
  const doc = (await ctx.app.inject({ method: 'GET', url: '/docs/json' })).json();
  return Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
    Object.entries(item)
      .filter(([, op]: [string, any]) => op.tags?.includes('admin'))
      .map(([method, op]: [string, any]) => ({
        name: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase() as 'GET' | 'POST' | 'PUT',
        // Path parameters that would fail validation too (not a UUID, not a year).
        url: `${path.replace(/\{[^}]+\}/g, 'not-an-id')}?page=abc&pageSize=-1&region=${'9'.repeat(40)}`,
        hasBody: Boolean(op.requestBody),
      })),
  );
}

describe('admin endpoints', () => {
  it('answer 403 to callers without the role, whatever the body, query or path, before validating anything', async () => {
    const ops = await adminOperations();
    expect(ops.map((o) => o.name)).toEqual(
      expect.arrayContaining(['PUT /api/admin/calendars/{year}', 'GET /api/admin/users', 'POST /api/admin/users', 'POST /api/admin/users/{id}/reset-password', 'POST /api/admin/users/{id}/disable']),
    );
    const callers = ['clerk.beishan', 'township.beishan', 'verify.xihu'];
    // Supervisors may read calendars, nothing else here.
    const supervisor = await ctx.as('supervisor.xihu');
    for (const op of ops) {
      const bodies = op.hasBody ? MALFORMED_BODIES : [undefined];
      for (const username of [...callers, 'supervisor.xihu']) {
        if (username === 'supervisor.xihu' && ['GET /api/admin/calendars/{year}', 'GET /api/admin/calendars'].includes(op.name)) continue;
        const { token } = username === 'supervisor.xihu' ? supervisor : await ctx.as(username);
        for (const payload of bodies) {
          const res = await ctx.app.inject({
            method: op.method,
            url: op.url,
            headers: { authorization: `Bearer ${token}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
            payload,
          });
          expect(res.statusCode, `${username} ${op.name} ${payload}: ${res.body}`).toBe(403);
          expect(res.json().code).toBe('ROLE_REQUIRED');
        }
      }
      const anonymous = await ctx.app.inject({ method: op.method, url: op.url, headers: op.hasBody ? { 'content-type': 'application/json' } : {}, payload: op.hasBody ? MALFORMED_BODIES[0] : undefined });
      expect(anonymous.statusCode, op.name).toBe(401);
    }
  });

  it('still validate the body for an admin (the walk above proves the order, not the absence of checks)', async () => {
    const admin = await ctx.as('admin.xihu');
    const res = await ctx.app.inject({
      method: 'PUT',
      url: '/api/admin/calendars/2027',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      payload: MALFORMED_BODIES[0],
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('VALIDATION_FAILED');
  });
});
