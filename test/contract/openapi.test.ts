import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// The proof of issue 13 §A: the live document lints clean, a client generated from it alone
// type-checks (and misspellings do not), and that client drives a 低保 case to payment.

const run = promisify(execFile);
const ctx = useTestApp();
const root = path.resolve(import.meta.dirname, '../..');
const bin = (name: string) => path.join(root, 'node_modules/.bin', name);
let dir: string;
let doc: any;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ow-contract-'));
  const res = await ctx.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
  fs.writeFileSync(path.join(dir, 'openapi.json'), res.body);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const operations = () =>
  Object.entries(doc.paths).flatMap(([p, item]: [string, any]) => Object.entries(item).map(([method, op]: [string, any]) => ({ id: `${method.toUpperCase()} ${p}`, method, op })));

describe('the OpenAPI document', () => {
  it('passes redocly lint (recommended ruleset) with 0 errors and 0 warnings', async () => {
    const { stdout } = await run(bin('redocly'), ['lint', path.join(dir, 'openapi.json'), '--format=json'], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((e) => e as { stdout: string });
    const report = JSON.parse(stdout.slice(stdout.indexOf('{')));
    const problems = report.problems.map((p: any) => `${p.severity} ${p.ruleId}: ${p.message} @ ${p.location?.[0]?.pointer}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('gives every operation an operationId, a defined tag, a summary, a description and its error codes', () => {
    const tags = new Set(doc.tags.map((t: any) => t.name));
    for (const { id, op } of operations()) {
      expect(op.operationId, id).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.tags?.length, id).toBeGreaterThan(0);
      for (const t of op.tags) expect(tags.has(t), `${id}: tag ${t} has no description`).toBe(true);
      expect(op.summary, id).toBeTruthy();
      expect(op.description, id).toMatch(/Who:/);
      expect(op['x-error-codes'], id).toContain('SERVICE_UNAVAILABLE');
    }
    const ids = operations().map((o) => o.op.operationId);
    expect(ids).toEqual(expect.arrayContaining(['openCase', 'getCase', 'sendCaseEvent', 'completeTask', 'claimTask', 'getInbox', 'trackCase', 'login', 'logout', 'getMe',
      'listProcedures', 'getProcedure', 'getSupervisionBoard', 'getPersonalData', 'verifyCaseAudit', 'getCalendarYear', 'putCalendarYear',
      'sendSocialAssistanceEvent', 'completeSocialAssistanceTask']));
  });

  it('declares the statuses and headers each kind of operation can give', () => {
    for (const { id, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      expect(statuses, id).toContain('503');
      expect(op.responses['503'].headers?.['Retry-After'], id).toBeDefined();
      if (isPublic) expect(statuses, id).toContain('429');
      else expect(statuses, id).toEqual(expect.arrayContaining(['401', '403']));
      if (op.requestBody) expect(statuses, id).toEqual(expect.arrayContaining(['400', '413', '415', '422']));
      const mutating = ['post', 'put', 'patch', 'delete'].includes(method) && !isPublic;
      const params = (op.parameters ?? []).map((p: any) => p.$ref ?? p.name);
      expect(params.includes('#/components/parameters/IdempotencyKey'), id).toBe(mutating);
      const ok = Object.entries(op.responses).find(([s]) => s.startsWith('2'))![1] as any;
      expect(Boolean(ok.headers?.['Idempotent-Replayed']), id).toBe(mutating);
      if (op['x-error-codes'].includes('CASE_BUSY')) expect(op.responses['409'].headers?.['Retry-After'], id).toBeDefined();
    }
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    const track = doc.paths['/api/track/{reference}'].get.parameters.find((p: any) => p.name === 'code');
    expect(track.required).toBe(true);
  });

  it('types every 2xx body: no empty schema, open maps only where described', () => {
    const schemas = doc.components.schemas;
    const problems: string[] = [];
    const seen = new Set<string>();
    const walk = (s: any, at: string) => {
      if (s === true || s === false) return;
      if (s.$ref) {
        if (seen.has(s.$ref)) return;
        seen.add(s.$ref);
        return walk(schemas[s.$ref.split('/').pop()], s.$ref);
      }
      const keys = Object.keys(s).filter((k) => !['description', 'title', 'default'].includes(k));
      if (keys.length === 0) problems.push(`${at}: empty schema`);
      if (s.additionalProperties === true && !s.description) problems.push(`${at}: open map without a description`);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        if (Object.keys(s.additionalProperties).length === 0) problems.push(`${at}: additionalProperties {}`);
        else walk(s.additionalProperties, `${at}.*`);
      }
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${at}.${k}`);
      if (s.items) walk(s.items, `${at}[]`);
      for (const c of ['anyOf', 'oneOf', 'allOf']) (s[c] ?? []).forEach((m: any, i: number) => walk(m, `${at}.${c}[${i}]`));
    };
    for (const { id, op } of operations()) {
      for (const [status, r] of Object.entries(op.responses) as [string, any][]) {
        const schema = r.content?.['application/json']?.schema;
        if (status.startsWith('2') && schema) walk(schema, `${id} ${status}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('shows request bodies as unions over procedures and event types, built from the workflow schemas', () => {
    const s = doc.components.schemas;
    expect(doc.paths['/api/cases'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/OpenCaseRequest' });
    expect(s.OpenCaseRequest.oneOf).toHaveLength(6);
    expect(s.OpenSocialAssistanceCase.properties.application).toEqual({ $ref: '#/components/schemas/SocialAssistance_Application' });
    const types = s.SocialAssistanceEventCommand.oneOf.map((b: any) => b.properties.type.const);
    expect(types).toEqual(expect.arrayContaining(['ACCEPT', 'PAY_MONTH', 'WITHDRAW']));
    const approve = s.SocialAssistanceTaskCompletion.oneOf.find((b: any) => b.properties.outcome.const === 'APPROVE');
    expect(approve.properties.data).toEqual({ $ref: '#/components/schemas/SocialAssistance_APPROVE' });
    expect(s.SocialAssistance_APPROVE.required).toEqual(['monthlyAmountFen', 'startMonth']);
    // The resident-ID transform renders as the string it takes in, not as "any".
    expect(s.Applicant.properties.idNumber.type).toBe('string');
  });
});

describe('a client generated from the document alone', () => {
  it('type-checks, and misspelled outcomes, event types, fields and procedure ids do not', async () => {
    const types = astToString(await openapiTS(doc));
    fs.writeFileSync(path.join(dir, 'onewindow-api.d.ts'), types);
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2024', 'DOM'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
          paths: { 'onewindow-api': [path.join(dir, 'onewindow-api.d.ts')] },
        },
        files: [path.join(root, 'test/contract/client/journey.ts')],
      }),
    );
    const result = await run(bin('tsc'), ['-p', path.join(dir, 'tsconfig.json')], { cwd: root }).then(
      () => '',
      (e) => String(e.stdout),
    );
    expect(result).toBe('');
    // tsc fails on an unused @ts-expect-error, so each of these probes is a compile error.
    expect(fs.readFileSync(path.join(root, 'test/contract/client/journey.ts'), 'utf8').match(/^\s*\/\/ @ts-expect-error/gm)).toHaveLength(6);
  }, 60_000);

  it('drives a 低保 case from opening to payment and the citizen tracking it, over a real socket', async () => {
    // Imported by a computed path: the root typecheck must not follow it (its types are generated above).
    const journeyFile = path.join(root, 'test/contract/client/journey.ts');
    const { socialAssistanceJourney } = await import(journeyFile);
    const address = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const result = await socialAssistanceJourney(address, DEMO_PASSWORD);
    expect(result.finalView.payments).toEqual([expect.objectContaining({ period: '2026-04', amountFen: 60000 })]);
    expect(result.finalView.stage).toContain('已发放');
    expect(result.replayedHeader).toBe('true');
    expect(result.tracking).toMatchObject({ reference: result.reference, stage: result.finalView.stage, decision: { approved: true, monthlyAmountFen: 60000, startMonth: '2026-04' } });
    // Every action points at a schema the document holds.
    expect(result.actionSchemas.length).toBeGreaterThan(0);
    for (const ref of result.actionSchemas) expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
  }, 60_000);
});

describe('per-procedure operations', () => {
  it('refuse like the generic ones, reject other procedures\' cases and tasks, and point actions at their schemas', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const opened = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
    const view = (await clerk.get(`/api/cases/${opened.id}`)).json();
    const task = view.openTasks[0];
    expect(task).toMatchObject({ department: 'township-window', regionCode: '330106001' });
    expect(task.actions).toContainEqual({ type: 'ACCEPT', label: '受理', dataSchema: '#/components/schemas/SocialAssistance_ACCEPT' });
    expect(view.allowedEvents.every((a: any) => a.dataSchema === `#/components/schemas/SocialAssistance_${a.type}`)).toBe(true);

    const bad = { outcome: 'ACCEPT', data: { referrals: 'yes' } };
    const generic = await clerk.post(`/api/tasks/${task.id}/complete`, bad);
    const typed = await clerk.post(`/api/procedures/social-assistance/tasks/${task.id}/complete`, bad);
    expect(typed.statusCode).toBe(422);
    expect(typed.json()).toEqual(generic.json());
    expect(typed.json()).toMatchObject({ code: 'INVALID_EVENT_DATA', details: [{ path: 'referrals' }] });

    expect((await clerk.post(`/api/procedures/funeral/tasks/${task.id}/complete`, { outcome: 'ACCEPT', data: {} })).statusCode).toBe(404);
    expect((await clerk.post(`/api/procedures/funeral/cases/${opened.id}/events`, { type: 'WITHDRAW', data: { reason: '申请人撤回' }, expectedVersion: 1 })).statusCode).toBe(404);

    const done = await clerk.post(`/api/procedures/social-assistance/tasks/${task.id}/complete`, { outcome: 'ACCEPT', data: { referrals: ['medical'] } });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().openTasks.map((t: any) => t.department).sort()).toEqual(['county-verification', 'medical-insurance', 'township-civil-affairs']);
    for (const t of done.json().openTasks) for (const a of t.actions) expect(doc.components.schemas[a.dataSchema.split('/').pop()], a.dataSchema).toBeDefined();
  });

  it('serves each event\'s data schema inline in the procedure definition, with its component name', async () => {
    const def = (await (await ctx.as('clerk.beishan')).get('/api/procedures/social-assistance')).json();
    const approve = def.events.find((e: any) => e.type === 'APPROVE');
    expect(approve.dataSchema).toMatchObject({ type: 'object', required: ['monthlyAmountFen', 'startMonth'] });
    expect(approve.dataSchemaRef).toBe('#/components/schemas/SocialAssistance_APPROVE');
  });
});
