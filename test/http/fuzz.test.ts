import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { applicant, application, useTestApp } from '../support/app.ts';

/**
 * Hostile input, thrown at every endpoint by fast-check: wrong types, huge strings, unicode
 * tricks, SQL-looking text, prototype-pollution keys, malformed JSON. Every answer must be a
 * documented error (never a 5xx), in the one error shape, and must change no row.
 */
const ctx = useTestApp();

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 2000, maxLength: 20000 }),
  fc.constantFrom(
    "' OR 1=1 --",
    "'); DROP TABLE cases; --",
    'a\u0000b',
    '\ud800',
    '\u202eevil',
    'zero\u200bwidth',
    '𠮷野家',
    '<script>alert(1)</script>',
    '${7*7}{{7*7}}',
    '../../etc/passwd',
    '%00%27',
    '11010519491231002X',
    'xstate.init',
    '__proto__',
  ),
);
const hostileKey = fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor', 'prototype', 'type', 'data', 'expectedVersion', 'outcome'));
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 5 }),
  ),
})).value;
/** The expensive shapes of issue 13 (B1, B9): deep nesting, huge node counts, invalid UTF-8 bytes. */
const deepBody = fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('[', '{"a":', '[{"b":'), fc.boolean()).map(([levels, open, closed]) => {
  const close = open === '[' ? ']' : open === '{"a":' ? '}' : '}]';
  return open.repeat(levels) + (open === '[' ? '' : '1') + (closed ? close.repeat(levels) : '');
});
const manyNodesBody = fc.tuple(fc.integer({ min: 1, max: 120_000 }), fc.constantFrom('0', '""', '{}', '[]', 'null')).map(([n, item]) => `[${`${item},`.repeat(n - 1)}${item}]`);
const invalidUtf8Body = fc
  .tuple(
    fc.constantFrom('{"username":"', '{"procedureId":"social-assistance","applicant":{"name":"', '{"type":"ACCEPT","data":{"note":"', '"'),
    fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe6, 0x9d]),
    fc.constantFrom('"}', '"}}', '"'),
  )
  .map(([head, bad, tail]) => Buffer.concat([Buffer.from(head), Buffer.from(bad), Buffer.from(tail)]));
/** Bodies as raw text: JSON of hostile values, hostile shapes of the real fields, and non-JSON. */
const hostileBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  deepBody,
  manyNodesBody,
  invalidUtf8Body,
  hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
  fc.record({ type: hostileString, data: hostileValue, expectedVersion: hostileValue, outcome: hostileString }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.record({ procedureId: fc.oneof(hostileString, fc.constant('social-assistance')), applicant: hostileValue, application: hostileValue }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{', '[]', 'null', '"text"', '1e999', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{"a":1,"a":2}'),
);
/** Percent-encoded path/query text; unpaired surrogates become invalid UTF-8 on the wire (%ED%A0%80). */
const pathSegment = hostileString.map((s) => {
  const text = s.slice(0, 300);
  return text.isWellFormed() ? encodeURIComponent(text) : `${encodeURIComponent(text.toWellFormed())}%ED%A0%80`;
});

let tokens: Record<string, string>;
let caseId: string;
let taskId: string;
let reference: string;

beforeAll(async () => {
  tokens = {};
  for (const u of ['clerk.beishan', 'verify.xihu', 'supervisor.xihu', 'admin.xihu']) tokens[u] = (await ctx.as(u)).token;
  const clerk = await ctx.as('clerk.beishan');
  const created = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
  caseId = created.id;
  reference = created.reference;
  const accepted = await clerk.post(`/api/cases/${caseId}/events`, { type: 'ACCEPT', data: {}, expectedVersion: 1 });
  taskId = accepted.json().openTasks.find((t: any) => t.department === 'county-verification').id;
});

async function fingerprint() {
  const db = ctx.database.db;
  const out: Record<string, unknown> = {};
  for (const table of ['cases', 'case_events', 'tasks', 'payments', 'outbox', 'timers', 'idempotency_keys', 'personal_data_access', 'calendar_days', 'calendar_years', 'users', 'regions']) {
    out[table] = Number((await db(table).count({ n: '*' }))[0].n);
  }
  out.versions = Number((await db('cases').sum({ s: 'version' }))[0].s);
  out.taskStates = (await db('tasks').select('status').orderBy('id')).map((t: any) => t.status).join();
  return out;
}

type Endpoint = { name: string; as?: string; method: 'GET' | 'POST' | 'PUT'; url: (seg: string) => string; body: boolean };
const ENDPOINTS: Endpoint[] = [
  { name: 'login', method: 'POST', url: () => '/api/auth/login', body: true },
  { name: 'open case', as: 'clerk.beishan', method: 'POST', url: () => '/api/cases', body: true },
  { name: 'case detail', as: 'clerk.beishan', method: 'GET', url: (s) => `/api/cases/${s}`, body: false },
  { name: 'case events', as: 'clerk.beishan', method: 'POST', url: () => `/api/cases/${caseId}/events`, body: true },
  { name: 'case events (bad id)', as: 'clerk.beishan', method: 'POST', url: (s) => `/api/cases/${s}/events`, body: true },
  { name: 'personal data', as: 'clerk.beishan', method: 'GET', url: (s) => `/api/cases/${s}/personal-data`, body: false },
  { name: 'audit verify', as: 'supervisor.xihu', method: 'GET', url: (s) => `/api/cases/${s}/audit/verify`, body: false },
  { name: 'inbox', as: 'verify.xihu', method: 'GET', url: (s) => `/api/tasks?status=${s}&page=${s}&pageSize=${s}&procedure=${s}`, body: false },
  { name: 'claim', as: 'verify.xihu', method: 'POST', url: (s) => `/api/tasks/${s}/claim`, body: true },
  { name: 'complete', as: 'verify.xihu', method: 'POST', url: () => `/api/tasks/${taskId}/complete`, body: true },
  { name: 'complete (bad id)', as: 'verify.xihu', method: 'POST', url: (s) => `/api/tasks/${s}/complete`, body: true },
  { name: 'track', method: 'GET', url: (s) => `/api/track/${s}?code=${s}`, body: false },
  { name: 'track (real reference)', method: 'GET', url: (s) => `/api/track/${reference}?code=${s}`, body: false },
  { name: 'procedure', as: 'clerk.beishan', method: 'GET', url: (s) => `/api/procedures/${s}`, body: false },
  { name: 'supervision', as: 'supervisor.xihu', method: 'GET', url: (s) => `/api/supervision?x=${s}`, body: false },
  { name: 'calendar load', as: 'admin.xihu', method: 'PUT', url: (s) => `/api/admin/calendars/${s}`, body: true },
  { name: 'calendar load (real year)', as: 'admin.xihu', method: 'PUT', url: () => '/api/admin/calendars/2026', body: true },
  { name: 'calendar view', as: 'admin.xihu', method: 'GET', url: (s) => `/api/admin/calendars/${s}?region=${s}`, body: false },
  { name: 'inbox filters and cursor', as: 'verify.xihu', method: 'GET', url: (s) => `/api/tasks?escalation=${s}&overdue=${s}&sort=${s}&cursor=${s}`, body: false },
  { name: 'unclaim', as: 'verify.xihu', method: 'POST', url: (s) => `/api/tasks/${s}/unclaim`, body: true },
  { name: 'supervision tasks', as: 'supervisor.xihu', method: 'GET', url: (s) => `/api/supervision/tasks?department=${s}&procedure=${s}&bucket=${s}&cursor=${s}&page=${s}`, body: false },
  { name: 'create user', as: 'admin.xihu', method: 'POST', url: () => '/api/admin/users', body: true },
  { name: 'reset password', as: 'admin.xihu', method: 'POST', url: (s) => `/api/admin/users/${s}/reset-password`, body: true },
];

describe('hostile input at every endpoint', () => {
  for (const ep of ENDPOINTS) {
    it(`${ep.method} ${ep.name}: never a 5xx, always the error shape, never a changed row`, async () => {
      const before = await fingerprint();
      await fc.assert(
        fc.asyncProperty(pathSegment, hostileBody, fc.option(hostileString.map((s) => s.replace(/[^\x21-\x7e]/g, '').slice(0, 250) || 'k')), async (seg, body, idemKey) => {
          const headers: Record<string, string> = {};
          if (ep.as) headers.authorization = `Bearer ${tokens[ep.as]}`;
          if (ep.body) headers['content-type'] = 'application/json';
          if (idemKey !== null && ep.method !== 'GET') headers['idempotency-key'] = idemKey;
          const res = await ctx.app.inject({ method: ep.method, url: ep.url(seg), headers, payload: ep.body ? body : undefined });
          expect(res.statusCode, `${ep.url(seg)} ${String(body.slice(0, 200))}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
          if (res.statusCode >= 400) {
            const err = res.json();
            expect(typeof err.code).toBe('string');
            expect(typeof err.message).toBe('string');
          }
        }),
        { numRuns: 40 },
      );
      expect(await fingerprint()).toEqual(before);
    });
  }
});
