import { describe, expect, it } from 'vitest';
import { JSON_LIMITS } from '../../src/http/hardening.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

/**
 * B1 and B9 of issue 13: bodies built to be expensive (deep nesting, huge node counts) or
 * mangled (invalid UTF-8) are refused before any other work, on every operation that takes a
 * body — enumerated from the live OpenAPI document, so operations added later are covered too.
 */
const ctx = useTestApp();

const deepArray = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const deepObject = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const manyNodes = (n: number) => `[${'0,'.repeat(n - 1)}0]`;
const SOME_UUID = '00000000-0000-4000-8000-000000000000';

type Operation = { method: string; url: string; name: string };

/**
 * Every operation of the live document that declares a request body or could be sent one (any
 * POST/PUT/PATCH/DELETE: the parser runs whether or not the route reads the body), path parameters filled in.
 */
async function bodyTakingOperations(): Promise<Operation[]> {
  const doc = (await ctx.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== 'object' || (!op.requestBody && !['post', 'put', 'patch', 'delete'].includes(method))) continue;
      const url = path.replace(/\{year\}/g, '2026').replace(/\{[^}]+\}/g, SOME_UUID);
      ops.push({ method: method.toUpperCase(), url, name: `${method.toUpperCase()} ${path.replace(/(.)\/$/, '$1')}` });
    }
  }
  return ops;
}

async function send(op: Operation, token: string, payload: string | Buffer) {
  const t0 = performance.now();
  const res = await ctx.app.inject({
    method: op.method as 'POST',
    url: op.url,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload,
  });
  return { res, ms: performance.now() - t0 };
}

describe('deep and huge JSON bodies', () => {
  it('are answered 422 BODY_TOO_DEEP, fast, on every body-taking operation of the OpenAPI document', async () => {
    // Roles are checked before the body is read: each operation is sent by someone it admits (a grid worker for registerLead).
    const callers = await Promise.all(['admin.xihu', 'clerk.beishan', 'township.beishan', 'supervisor.xihu', 'grid.beishan'].map(async (u) => (await ctx.as(u)).token));
    // Public online-application routes read at most 16 KiB (1 KiB for the code): a big body is 413 before its depth matters.
    const smallLimit = new Set(['POST /api/public/applications', 'POST /api/public/applications/{id}/phone-code', 'POST /api/public/applications/{id}/confirm']);
    const ops = await bodyTakingOperations();
    // Today: login, logout, opening a case, events, claim, complete and the calendar.
    expect(ops.length).toBeGreaterThanOrEqual(7);
    expect(ops.map((o) => o.name)).toEqual(expect.arrayContaining(['POST /api/auth/login', 'POST /api/cases', 'POST /api/tasks/{id}/complete']));
    const bodies = {
      '80,000-level array': deepArray(80_000),
      '5,000-level array': deepArray(5_000),
      '5,000-level object': deepObject(5_000),
      '100,000 elements': manyNodes(100_000),
    };
    for (const op of ops) {
      for (const [shape, body] of Object.entries(bodies)) {
        let sent = await send(op, callers[0], body);
        for (const token of callers.slice(1)) {
          if (sent.res.json().code !== 'ROLE_REQUIRED') break;
          expect(sent.ms, `${op.name} ${shape} (role refused)`).toBeLessThan(100);
          sent = await send(op, token, body);
        }
        const { res, ms } = sent;
        if (smallLimit.has(op.name) && res.statusCode === 413) {
          expect(res.json().code).toBe('BODY_TOO_LARGE');
          continue;
        }
        expect(res.statusCode, `${op.name} ${shape}: ${res.body.slice(0, 200)}`).toBe(422);
        expect(res.json()).toMatchObject({ code: 'BODY_TOO_DEEP', message: '请求内容嵌套过深或元素过多' });
        // The recursive check took 400–1,400 ms on the 80,000-level body; the byte scan stops at level 33.
        expect(ms, `${op.name} ${shape}`).toBeLessThan(100);
      }
    }
  });

  it('stops at the limits, not before: 32 levels and 10,000 elements still reach validation', async () => {
    const { token } = await ctx.as('clerk.beishan');
    const op = { method: 'POST', url: '/api/cases', name: 'open case' };
    const atDepth = await send(op, token, deepArray(JSON_LIMITS.maxDepth));
    expect(atDepth.res.json().code).toBe('VALIDATION_FAILED');
    expect((await send(op, token, deepArray(JSON_LIMITS.maxDepth + 1))).res.json().code).toBe('BODY_TOO_DEEP');
    expect((await send(op, token, manyNodes(JSON_LIMITS.maxNodes))).res.json().code).toBe('VALIDATION_FAILED');
    expect((await send(op, token, manyNodes(JSON_LIMITS.maxNodes + 1))).res.json().code).toBe('BODY_TOO_DEEP');
    // Brackets inside strings are text, not nesting.
    const inString = JSON.stringify({ procedureId: 'social-assistance', applicant: { ...applicant, name: '['.repeat(100) }, application });
    expect((await send(op, token, inString)).res.json().code).not.toBe('BODY_TOO_DEEP');
  });

  it('keeps refusing __proto__ and constructor.prototype', async () => {
    const op = { method: 'POST', url: '/api/auth/login', name: 'login' };
    for (const body of ['{"__proto__":{"admin":true}}', '{"username":"a","password":"b","constructor":{"prototype":{"x":1}}}', '{"\\u005f_proto__":{}}']) {
      const { res } = await send(op, 'none', body);
      expect(res.statusCode, body).toBe(400);
      expect(res.json().code).toBe('INVALID_JSON_BODY');
    }
  });
});

describe('invalid UTF-8', () => {
  const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

  it('is refused with 400 INVALID_ENCODING and no case is opened with a mangled name', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const casesBefore = Number((await ctx.database.db('cases').count({ n: '*' }))[0].n);
    const prefix = `{"procedureId":"social-assistance","application":${JSON.stringify(application)},"applicant":{"idNumber":"${applicant.idNumber}","phone":"${applicant.phone}","name":"张`;
    const mangled = [
      [0xff], // never valid
      [0xc3], // truncated two-byte sequence
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xc0, 0xaf], // overlong "/"
    ];
    for (const bad of mangled) {
      const { res } = await send({ method: 'POST', url: '/api/cases', name: 'open case' }, clerk.token, bytes(prefix, bad, '三丰"}}'));
      expect(res.statusCode, String(bad)).toBe(400);
      expect(res.json()).toEqual({ code: 'INVALID_ENCODING', message: '请求内容不是有效的 UTF-8 编码，请检查后重新提交' });
    }
    expect(Number((await ctx.database.db('cases').count({ n: '*' }))[0].n)).toBe(casesBefore);
    // The same body, correctly encoded, opens the case with the name as sent.
    const good = await send({ method: 'POST', url: '/api/cases', name: 'open case' }, clerk.token, bytes(prefix, '三丰"}}'));
    expect(good.res.statusCode).toBe(201);
    expect((await clerk.get(`/api/cases/${good.res.json().id}`)).body).toContain('张三丰'.slice(0, 1));
  });
});
