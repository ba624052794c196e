import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { getStateNodes } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { leafPaths, retainedDefinitions, type CaseEvent, type ProcedureDefinition } from '../../workflows/index.ts';
import { Engine, SYSTEM_ACTOR, type Actor } from '../../src/engine/engine.ts';
import { ProcedureRegistry } from '../../src/engine/registry.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { activeLeaves, initialSnapshot, resolve } from '../../src/engine/chart.ts';
import { canonicalJson, verifyChain } from '../../src/engine/audit.ts';
import { exploreProcedure, generatePaths, inputFor, vertexKey, type ModelPath } from '../../src/engine/model.ts';
import { checkCharacter } from '../../src/engine/references.ts';
import { listEvents } from '../../src/db/caseEvents.ts';
import { MIGRATION_ACTOR, formatReport, migrateDefinition, findMapping, type MigrationReport } from '../../src/engine/commands/migrateDefinition.ts';
import { parseArgs, run as runCli } from '../../src/cli/cases-migrate.ts';
import { DEMO_USERS } from '../../src/seed.ts';
import { useTestApp } from '../support/app.ts';

// Issue 10, "Definition versioning and migration": cases started on version 1 of 低保, one in
// every state version 1 has (derived from its chart, so a new state gets a case with no test to
// write), moved to version 2 by the declared mapping (workflows/social-assistance/migrations/).
const ctx = useTestApp();

function residentIdForAge(age: number): string {
  const body = `110105${2026 - age - 1}0101001`;
  return body + checkCharacter(body);
}

const actors = new Map<string, Actor>();
async function actorFor(username: string): Promise<Actor> {
  if (!actors.has(username)) {
    const u = await ctx.database.db('users').where({ username }).first();
    actors.set(username, { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles });
  }
  return actors.get(username)!;
}

/** The demo user who sends `event` to the case now: the holder of the task carrying it, or its declared sender. */
async function senderOf(def: ProcedureDefinition, caseId: string, region: string, type: string): Promise<Actor> {
  const spec = def.events[type];
  if (spec.sentBy && 'system' in spec.sentBy) return SYSTEM_ACTOR;
  const task = (await ctx.database.db('tasks').where({ case_id: caseId }).whereIn('status', ['open', 'claimed'])).find((t: any) => t.actions.includes(type));
  const [department, role] = task ? [task.department, task.role] : [def.acceptingDepartments[0], (spec.sentBy as any)?.role ?? 'clerk'];
  const user = DEMO_USERS.find((u) => u.department === department && u.roles.includes(role) && region.startsWith(u.region_code));
  if (!user) throw new Error(`no demo user sends ${type} (${department}/${role}) in ${region}`);
  return actorFor(user.username);
}

async function send(engine: Engine, def: ProcedureDefinition, caseId: string, region: string, event: CaseEvent) {
  const actor = await senderOf(def, caseId, region, event.type);
  return ctx.database.db.transaction((trx) => engine.sendEvent(trx, actor, caseId, event));
}

interface DrivenCase {
  id: string;
  reference: string;
  region: string;
  covers: string;
  leafIds: string[];
}

/** Everything a migration may touch, to compare before and after. */
async function tables(db: Knex) {
  const order = (q: Knex.QueryBuilder) => q.orderBy('id');
  return {
    cases: await order(db('cases').select('id', 'definition_version', 'status', 'state_value', 'snapshot', 'version', 'chain_head', 'due_at', 'clock_paused_at')),
    tasks: await order(db('tasks').select('*')),
    timers: await order(db('timers').select('*')),
    events: await order(db('case_events').select('id', 'case_id', 'seq', 'type', 'hash')),
  };
}

// 特困 is built by the same chart factory and migrates by the same mapping.
describe.each(['social-assistance', 'destitute-support'])('migrating running %s cases from version 1 to version 2', (PROCEDURE) => {
  const v1 = retainedDefinitions.find((d) => d.id === PROCEDURE && d.version === 1)!;
  const driven: DrivenCase[] = [];
  let dryRun: MigrationReport;
  let real: MigrationReport;

  it('drives one version-1 case into every state of version 1', async () => {
    // The service as deployed before version 2: version 1 is the latest it knows.
    const before = new Engine({ registry: new ProcedureRegistry([v1]), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS), clock: ctx.clock.now });
    // The model-based paths visit every state; for each state, the shortest prefix reaching it is one case.
    const targets: Array<{ variant: ModelPath['variant']; steps: ModelPath['steps']; covers: string }> = [];
    const reached = new Set<string>();
    for (const p of generatePaths(v1)) {
      for (let n = 0; n <= p.steps.length; n++) {
        const state = n === 0 ? resolve(v1, initialSnapshot(v1, inputFor(v1, p.variant))) : p.steps[n - 1].state;
        const fresh = activeLeaves(state).map((l) => l.stateId).filter((id) => !reached.has(id));
        if (!fresh.length) continue;
        fresh.forEach((id) => reached.add(id));
        targets.push({ variant: p.variant, steps: p.steps.slice(0, n), covers: `state ${fresh.join(', ')}` });
      }
    }
    for (const path of targets) {
      const delegated = path.variant.regionSettings.assistanceConfirmationDelegated === true;
      const clerk = await actorFor(delegated ? 'clerk.xixi' : 'clerk.beishan');
      const opened = await ctx.database.db.transaction((trx) =>
        before.openCase(trx, clerk, { procedureId: PROCEDURE, applicant: { name: '赵六', idNumber: residentIdForAge(path.variant.applicantAge ?? 40), phone: '13900139000' }, application: path.variant.application }),
      );
      for (const { event } of path.steps) await send(before, v1, opened.id, clerk.regionCode, event);
      const row = await ctx.database.db('cases').where({ id: opened.id }).first();
      expect(row.definition_version).toBe(1);
      expect(canonicalJson(row.state_value), path.covers).toBe(canonicalJson(path.steps.at(-1)?.state.value ?? row.state_value));
      driven.push({ id: opened.id, reference: opened.reference, region: clerk.regionCode, covers: path.covers, leafIds: activeLeaves(resolve(v1, row.snapshot)).map((l) => l.stateId) });
    }
    // Every resting state of version 1 — from the chart itself — has a case.
    const states = (getStateNodes(v1.machine.root) as any[]).filter((n) => (n.type === 'atomic' || n.type === 'final') && !(n.always?.length > 0)).map((n) => n.id as string);
    const covered = new Set(driven.flatMap((c) => c.leafIds));
    expect(states.filter((s) => !covered.has(s))).toEqual([]);
    expect(states.length).toBeGreaterThan(15);
  });

  it('dry run: the table counts every running case by state and changes nothing', async () => {
    const before = await tables(ctx.database.db);
    dryRun = await migrateDefinition(ctx.engine, ctx.database.db, MIGRATION_ACTOR, { procedureId: PROCEDURE, from: 1, to: 2, dryRun: true, batchSize: 7 });
    expect(await tables(ctx.database.db)).toEqual(before);

    const running = await ctx.database.db('cases').where({ procedure_id: PROCEDURE, definition_version: 1, status: 'running' });
    expect(dryRun.totals.cases).toBe(running.length);
    expect(dryRun.totals.mappable + dryRun.totals.refused).toBe(running.length);
    expect(dryRun.rows.reduce((n, r) => n + r.cases, 0)).toBe(running.length);
    // Per source state, the same count as the database holds.
    const bySource = new Map<string, number>();
    for (const r of running) bySource.set(leafPaths(r.state_value).join(' + '), (bySource.get(leafPaths(r.state_value).join(' + ')) ?? 0) + 1);
    const fromTable = new Map<string, number>();
    for (const r of dryRun.rows) fromTable.set(r.fromState, (fromTable.get(r.fromState) ?? 0) + r.cases);
    expect(fromTable).toEqual(bySource);
    // The refused are exactly the cases whose 医疗救助 was decided on version 1, with the reason.
    const decided = running.filter((r) => leafPaths(r.state_value).some((l) => /^handling\.medicalAssistance\.(granted|notGranted)$/.test(l)));
    expect(decided.length).toBeGreaterThan(0);
    expect(dryRun.refused.map((r) => r.caseId).sort()).toEqual(decided.map((r) => r.id).sort());
    for (const r of dryRun.refused) expect(r.reason).toMatch(/版本1未记录/);
    // Done cases are not part of a migration.
    const done = await ctx.database.db('cases').where({ procedure_id: PROCEDURE, definition_version: 1, status: 'done' });
    expect(done.length).toBeGreaterThan(0);
    expect(dryRun.rows.every((r) => r.toState === null || r.toState.includes('handling.') === r.fromState.includes('handling.'))).toBe(true);
  });

  it('run: every mappable case is on version 2 with the tasks and timers version 2 derives, one chained DEFINITION_MIGRATED each', async () => {
    const before = await tables(ctx.database.db);
    const refusedIds = new Set(dryRun.refused.map((r) => r.caseId));
    real = await migrateDefinition(ctx.engine, ctx.database.db, MIGRATION_ACTOR, { procedureId: PROCEDURE, from: 1, to: 2, dryRun: false, batchSize: 5 });
    expect(real.totals).toEqual({ ...dryRun.totals, migrated: dryRun.totals.mappable, busy: 0 });
    expect(real.rows).toEqual(dryRun.rows);
    if (process.env.SHOW_MIGRATION) console.log(formatReport(real));
    const v2 = ctx.engine.registry.pinned(PROCEDURE, 2);

    for (const c of driven) {
      const row = await ctx.database.db('cases').where({ id: c.id }).first();
      const old = before.cases.find((x: any) => x.id === c.id)!;
      const events = await listEvents(ctx.database.db, c.id);
      if (old.status === 'done' || refusedIds.has(c.id)) {
        // Untouched: same row, same tasks, timers and events.
        expect(row.definition_version, c.covers).toBe(1);
        expect(row.version).toBe(old.version);
        expect(events.map((e) => e.type)).not.toContain('DEFINITION_MIGRATED');
        expect((await ctx.database.db('tasks').where({ case_id: c.id }).orderBy('id'))).toEqual(before.tasks.filter((t: any) => t.case_id === c.id));
        continue;
      }
      expect(row.definition_version, c.covers).toBe(2);
      expect(row.version).toBe(old.version + 1);
      const migrated = events.filter((e) => e.type === 'DEFINITION_MIGRATED');
      expect(migrated).toHaveLength(1);
      expect(migrated[0].seq).toBe(row.version);
      expect(migrated[0].payload).toMatchObject({ fromVersion: 1, toVersion: 2, mappingId: findMapping(PROCEDURE, 1, 2).id });
      expect(canonicalJson(migrated[0].from_state)).toBe(canonicalJson(old.state_value));
      expect(canonicalJson(migrated[0].to_state)).toBe(canonicalJson(row.state_value));
      expect(verifyChain(events, row.chain_head).valid).toBe(true);

      // Tasks: one live task per task state of version 2, described as version 2 describes it.
      const snap = resolve(v2, row.snapshot);
      const taskLeaves = activeLeaves(snap).filter((l) => l.meta.task && !l.final);
      const live = await ctx.database.db('tasks').where({ case_id: c.id }).whereIn('status', ['open', 'claimed']);
      expect(live.map((t: any) => t.state_id).sort(), c.covers).toEqual(taskLeaves.map((l) => l.stateId).sort());
      for (const t of live) {
        const meta = taskLeaves.find((l) => l.stateId === t.state_id)!.meta.task!;
        expect({ title: t.title, department: t.department, role: t.role, actions: t.actions }).toEqual({ title: meta.title, department: meta.department, role: meta.role, actions: meta.actions });
      }
      // Timers: every live task keeps its escalation timers; closed tasks have none pending.
      const pending = await ctx.database.db('timers').where({ case_id: c.id, status: 'pending' });
      for (const t of live) if (t.due_at) expect(pending.some((p: any) => p.task_id === t.id), `${c.covers}: timers of ${t.state_id}`).toBe(true);
      const liveIds = new Set(live.map((t: any) => t.id));
      expect(pending.filter((p: any) => p.task_id && !liveIds.has(p.task_id))).toEqual([]);
      // Payment-step tasks now offer the late referral version 2 brings.
      const payment = live.find((t: any) => /\.(paying|awaitingPayment)$/.test(t.state_id));
      if (payment) expect(payment.actions).toContain('REFER_TO_SPECIALISED_RELIEF');
    }
  });

  it('a second run is a no-op', async () => {
    const before = await tables(ctx.database.db);
    const again = await migrateDefinition(ctx.engine, ctx.database.db, MIGRATION_ACTOR, { procedureId: PROCEDURE, from: 1, to: 2, dryRun: false });
    expect(again.totals).toEqual({ cases: dryRun.totals.refused, mappable: 0, refused: dryRun.totals.refused, migrated: 0, busy: 0 });
    expect(await tables(ctx.database.db)).toEqual(before);
  });

  it('each migrated case then runs on version 2 to its end', async () => {
    const v2 = ctx.engine.registry.pinned(PROCEDURE, 2);
    const models = exploreProcedure(v2);
    const ids = (await ctx.database.db('cases').where({ procedure_id: PROCEDURE, definition_version: 2, status: 'running' }).whereIn('id', driven.map((c) => c.id))).map((r: any) => r.id);
    expect(ids.length).toBe(real.totals.migrated);
    for (const id of ids) {
      const c = driven.find((d) => d.id === id)!;
      for (let stepNo = 0; ; stepNo++) {
        const row = await ctx.database.db('cases').where({ id }).first();
        if (row.status === 'done') break;
        expect(stepNo, `${c.covers}: still running after 40 steps`).toBeLessThan(40);
        const snap = resolve(v2, row.snapshot);
        // The variant this case was opened as (the chart's input: delegated confirmation, minor applicant).
        const model = models.find((m) => Object.entries(inputFor(v2, m.variant) as Record<string, unknown>).every(([k, v]) => snap.context[k] === v))!;
        const key = vertexKey(v2, snap);
        const vertex = [...model.vertices.keys()].find((k) => k === key || canonicalJson(JSON.parse(k.split('|')[0])) === canonicalJson(snap.value));
        expect(vertex, `${c.covers}: ${JSON.stringify(snap.value)} is a state of version 2's graph`).toBeTruthy();
        const event = nextTowardsEnd(v2, model, vertex!, snap);
        await send(ctx.engine, v2, id, c.region, event);
      }
      const row = await ctx.database.db('cases').where({ id }).first();
      expect(verifyChain(await listEvents(ctx.database.db, id), row.chain_head).valid).toBe(true);
      expect(await ctx.database.db('tasks').where({ case_id: id }).whereIn('status', ['open', 'claimed'])).toEqual([]);
    }
  });

  it('the CLI plans and runs through the same code (nothing left to migrate)', async () => {
    expect(parseArgs(['--procedure', PROCEDURE, '--from', '1', '--to', '2', '--dry-run'])).toEqual({ procedureId: PROCEDURE, from: 1, to: 2, dryRun: true, batchSize: 100 });
    expect(() => parseArgs(['--procedure', PROCEDURE, '--from', '2', '--to', '1'])).toThrow(/must be greater/);
    expect(() => parseArgs(['--from', '1', '--to', '2'])).toThrow(/--procedure is required/);
    const report = await runCli({ procedureId: PROCEDURE, from: 1, to: 2, dryRun: true, batchSize: 100 }, { db: ctx.database.db, engine: ctx.engine });
    expect(report.totals.mappable).toBe(0);
    expect(report.totals.refused).toBe(dryRun.totals.refused);
  });

  it('the CLI as a process against the database prints the table and totals', async (t) => {
    if (ctx.database.kind !== 'postgres') return t.skip(); // the embedded test database lives in this process only
    const out = spawnSync(process.execPath, ['--import', 'tsx', path.resolve(import.meta.dirname, '../../src/cli/cases-migrate.ts'), '--procedure', PROCEDURE, '--from', '1', '--to', '2', '--dry-run'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, DATABASE_URL: ctx.database.url, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS },
    });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain(`DRY RUN (nothing written): ${PROCEDURE} version 1 → 2`);
    expect(out.stdout).toContain('REFUSED: 医疗救助已批准');
    expect(out.stdout).toContain(`Totals: ${dryRun.totals.refused} running cases, 0 mappable, ${dryRun.totals.refused} refused, 0 migrated, 0 busy`);
  });
});

/** The first event of a shortest path to a final vertex, its data made valid for the case's own context. */
function nextTowardsEnd(def: ProcedureDefinition, model: ReturnType<typeof exploreProcedure>[number], start: string, snap: any): CaseEvent {
  const out = new Map<string, typeof model.edges>();
  for (const e of model.edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  // Context-dependent examples (the next month to pay) come from the case, not from the graph's context.
  const real = (e: CaseEvent): CaseEvent => {
    const examples = def.events[e.type].examples;
    if (typeof examples !== 'function') return e;
    return { type: e.type, data: examples(snap.context).find((d: Record<string, unknown>) => snap.can({ type: e.type, data: d })) ?? e.data };
  };
  const firstOf = new Map<string, CaseEvent>();
  const queue: string[] = [];
  for (const e of out.get(start) ?? []) {
    const ev = real(e.event);
    if (e.to === start || firstOf.has(e.to) || !snap.can(ev)) continue;
    firstOf.set(e.to, ev);
    queue.push(e.to);
  }
  const seen = new Set([start, ...queue]);
  while (queue.length) {
    const k = queue.shift()!;
    if (model.vertices.get(k)!.status === 'done') return firstOf.get(k)!;
    for (const e of out.get(k) ?? []) {
      if (seen.has(e.to)) continue;
      seen.add(e.to);
      firstOf.set(e.to, firstOf.get(k)!);
      queue.push(e.to);
    }
  }
  throw new Error(`no way to the end from ${start}`);
}
