import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { retainedDefinitions } from '../../workflows/index.ts';
import { Engine, type Actor } from '../../src/engine/engine.ts';
import { ProcedureRegistry } from '../../src/engine/registry.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { hashPassword } from '../../src/identity.ts';
import { upsertUser } from '../../src/db/users.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { MIGRATION_ACTOR, findMapping, migrateCase, migrateDefinition } from '../../src/engine/commands/migrateDefinition.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// The admin API of definition migration (docs/versioning.md): who may call it, dry run and run
// over HTTP, and a command racing the migration of its case.
const ctx = useTestApp();
const URL = '/api/admin/definition-migrations';
const v1 = retainedDefinitions.find((d) => d.id === 'social-assistance' && d.version === 1)!;

async function actorFor(username: string): Promise<Actor> {
  const u = await ctx.database.db('users').where({ username }).first();
  return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
}

/** A version-1 低保 case, accepted (with 医疗救助 if asked): it sits in 入户调查 / 信息核对. */
const tracking = new Map<string, { reference: string; trackingCode: string }>();
async function v1Case(referToMedicalAssistance = false): Promise<string> {
  const before = new Engine({ registry: new ProcedureRegistry([v1]), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS), clock: ctx.clock.now });
  const clerk = await actorFor('clerk.beishan');
  return ctx.database.db.transaction(async (trx) => {
    const o = await before.openCase(trx, clerk, { procedureId: 'social-assistance', applicant, application });
    await before.sendEvent(trx, clerk, o.id, { type: 'ACCEPT', data: { referToMedicalAssistance } });
    tracking.set(o.id, o);
    return o.id;
  });
}

const rowOf = (id: string) => ctx.database.db('cases').where({ id }).first();

describe('POST /api/admin/definition-migrations', () => {
  it('refuses non-admins and admins below the top-level region before reading the body', async () => {
    const clerk = await ctx.as('clerk.beishan');
    const notAdmin = await clerk.post(URL, { nonsense: true });
    expect(notAdmin.statusCode).toBe(403);
    expect(notAdmin.json().code).toBe('ROLE_REQUIRED');
    const supervisor = await ctx.as('supervisor.xihu');
    expect((await supervisor.post(URL, { procedure: 'social-assistance', from: 1, to: 2 })).statusCode).toBe(403);

    await upsertUser(ctx.database.db, { id: randomUUID(), username: 'admin.beishan', password_hash: await hashPassword(DEMO_PASSWORD), display_name: '北山街道管理员', region_code: '330106001', department: 'administration', roles: ['admin'] });
    const townshipAdmin = await ctx.as('admin.beishan');
    const below = await townshipAdmin.post(URL, { nonsense: true });
    expect(below.statusCode).toBe(403);
    expect(below.json().code).toBe('NOT_PERMITTED');
    expect((await townshipAdmin.get(URL)).statusCode).toBe(403);
    expect((await clerk.get(URL)).statusCode).toBe(403);
  });

  it('lists the declared mappings for a top-level admin', async () => {
    const list = await (await ctx.as('admin.xihu')).get(URL);
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().items).toEqual(
      expect.arrayContaining([expect.objectContaining({ procedureId: 'social-assistance', procedureName: '最低生活保障（低保）申请', from: 1, to: 2, mappingId: findMapping('social-assistance', 1, 2).id })]),
    );
  });

  it('validates the body and names a missing mapping', async () => {
    const admin = await ctx.as('admin.xihu');
    const backwards = await admin.post(URL, { procedure: 'social-assistance', from: 2, to: 1 });
    expect(backwards.statusCode).toBe(422);
    expect(backwards.json().code).toBe('VALIDATION_FAILED');
    const none = await admin.post(URL, { procedure: 'funeral', from: 1, to: 2, dryRun: true });
    expect(none.statusCode).toBe(422);
    expect(none.json()).toMatchObject({ code: 'UNKNOWN_DEFINITION_MIGRATION', details: [{ path: 'procedure' }] });
  });

  it('plans by default, runs when asked, and replays the answer for the same Idempotency-Key', async () => {
    const [plain, medical] = [await v1Case(false), await v1Case(true)];
    const admin = await ctx.as('admin.xihu');
    const versions = async () => [(await rowOf(plain)).version, (await rowOf(medical)).version];
    const before = await versions();

    const plan = await admin.post(URL, { procedure: 'social-assistance', from: 1, to: 2 });
    expect(plan.statusCode, plan.body).toBe(200);
    expect(plan.json()).toMatchObject({ dryRun: true, totals: { cases: 2, mappable: 2, refused: 0, migrated: 0 } });
    expect(plan.json().rows.map((r: any) => r.fromStage)).toContain('家庭经济状况核对中 + 入户调查中 + 医疗救助审核中（医保部门）');
    expect(await versions()).toEqual(before);

    const headers = { authorization: `Bearer ${admin.token}`, 'idempotency-key': 'migrate-sa-1-2' };
    const body = { procedure: 'social-assistance', from: 1, to: 2, dryRun: false };
    const ran = await ctx.app.inject({ method: 'POST', url: URL, headers, payload: body });
    expect(ran.statusCode, ran.body).toBe(200);
    expect(ran.json()).toMatchObject({ dryRun: false, mappingId: findMapping('social-assistance', 1, 2).id, totals: { cases: 2, migrated: 2 } });
    const replay = await ctx.app.inject({ method: 'POST', url: URL, headers, payload: body });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(ran.json());
    expect(await versions()).toEqual(before.map((v) => v + 1));

    // Staff see the step in the history; the chain still verifies; the citizen's timeline leaves it out.
    const county = await ctx.as('supervisor.xihu');
    const view = (await county.get(`/api/cases/${medical}`)).json();
    expect(view.definitionVersion).toBe(2);
    expect(view.history.at(-1)).toMatchObject({ type: 'DEFINITION_MIGRATED', label: '办理流程版本升级', payload: { fromVersion: 1, toVersion: 2 } });
    expect((await county.get(`/api/cases/${medical}/audit/verify`)).json()).toMatchObject({ valid: true });
    const { reference, trackingCode } = tracking.get(medical)!;
    const citizen = (await ctx.app.inject({ method: 'GET', url: `/api/track/${reference}?code=${trackingCode}` })).json();
    expect(citizen.timeline.length).toBeGreaterThan(1);
    expect(citizen.timeline.map((e: any) => e.step)).not.toContain('办理流程版本升级');
    // The 医保 task carried over and now takes version 2's outcome (救助方式).
    const med = await ctx.as('medical.xihu');
    const task = (await med.get('/api/tasks?pageSize=200')).json().items.find((t: any) => t.caseId === medical);
    const granted = await med.post(`/api/tasks/${task.id}/complete`, { outcome: 'MEDICAL_ASSISTANCE_GRANTED', data: { measures: ['expenseSubsidy'] } });
    expect(granted.statusCode, granted.body).toBe(200);
    expect(granted.json().facts.referralOutcomes.medical).toMatchObject({ granted: true, measures: ['expenseSubsidy'] });
  });

  it('a command racing the migration of its case: exactly one wins, the other gets 409 and writes nothing', async (t) => {
    if (ctx.database.kind !== 'postgres') return t.skip(); // PGlite has one connection: nothing can race
    const township = await ctx.as('township.beishan');
    const homeVisit = (expectedVersion: number) => ({ type: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '情况属实' }, expectedVersion });
    const mapping = findMapping('social-assistance', 1, 2);
    const v2 = ctx.engine.registry.pinned('social-assistance', 2);

    // 1. The migration holds the case: the command waits, then is refused; the migration commits.
    const a = await v1Case();
    const version = (await rowOf(a)).version;
    let command: Promise<Awaited<ReturnType<typeof township.post>>> | undefined;
    await ctx.database.db.transaction(async (trx) => {
      expect((await migrateCase(ctx.engine, trx, mapping, v1, v2, a, MIGRATION_ACTOR)).status).toBe('migrated');
      command = township.post(`/api/cases/${a}/events`, homeVisit(version));
      await new Promise((r) => setTimeout(r, 1500)); // holding the lock past the command's lock_timeout
    });
    const refused = await command!;
    expect(refused.statusCode).toBe(409);
    expect(['CASE_BUSY', 'VERSION_CONFLICT']).toContain(refused.json().code);
    const afterA = await rowOf(a);
    expect([afterA.definition_version, afterA.version]).toEqual([2, version + 1]);
    expect((await ctx.database.db('case_events').where({ case_id: a }).pluck('type')).filter((x: string) => x === 'HOME_VISIT_COMPLETED')).toEqual([]);

    // 2. A command holds the case: the migration finds it busy and leaves it; the next run takes it from where the command left it.
    const b = await v1Case();
    const bVersion = (await rowOf(b)).version;
    let report: Awaited<ReturnType<typeof migrateDefinition>> | undefined;
    const clerkless = await actorFor('township.beishan');
    const before = new Engine({ registry: new ProcedureRegistry([v1]), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS), clock: ctx.clock.now });
    await ctx.database.db.transaction(async (trx) => {
      await before.sendEvent(trx, clerkless, b, homeVisit(bVersion));
      report = await migrateDefinition(ctx.engine, ctx.database.db, MIGRATION_ACTOR, { procedureId: 'social-assistance', from: 1, to: 2, dryRun: false });
    });
    expect(report!.busy.map((x) => x.caseId)).toEqual([b]);
    expect(report!.totals.migrated).toBe(0);
    const again = await migrateDefinition(ctx.engine, ctx.database.db, MIGRATION_ACTOR, { procedureId: 'social-assistance', from: 1, to: 2, dryRun: false });
    expect(again.totals).toMatchObject({ migrated: 1, busy: 0 });
    const migrated = await ctx.database.db('case_events').where({ case_id: b, type: 'DEFINITION_MIGRATED' }).first();
    expect(migrated.seq).toBe(bVersion + 2);
    expect(JSON.stringify(migrated.from_state)).toContain('visited');
  });
});
