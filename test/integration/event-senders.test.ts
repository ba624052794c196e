import type { Knex } from 'knex';
import { getNextTransitions, type AnyMachineSnapshot } from 'xstate';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { procedureDefinitions, type ProcedureDefinition } from '../../workflows/index.ts';
import { cd, stage, taskState } from '../../workflows/shared/meta.ts';
import { activeLeaves, knownEvents } from '../../src/engine/chart.ts';
import { SYSTEM_ACTOR, type Actor } from '../../src/engine/engine.ts';
import { DomainError } from '../../src/engine/errors.ts';
import { eventsFor, exploreProcedure, validateProcedure, type VariantModel } from '../../src/engine/model.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { checkCharacter } from '../../src/engine/references.ts';
import { toActor } from '../../src/identity.ts';
import { DEMO_REGIONS, DEMO_USERS, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testProcedure } from '../support/procedures.ts';

/**
 * The event-authorization matrix, generated from the charts (issue 13 B2, A5). For every
 * procedure and variant, a case is driven to a state where each (event, handling state) pair is
 * known; there every known event is sent by every demo user and by the system actor, each try
 * inside a savepoint that is rolled back. Exactly the senders the chart declares — the holder
 * (department, role, region) of an open task carrying the event, else the event's `sentBy` —
 * succeed; everybody else gets 403 or 404. The case view's `allowedEvents` and task `actions`
 * must list exactly what the same user could send, and the case must be invisible (404) to
 * anyone outside need-to-know.
 */

let database: TestDatabase;
const engine = createEngine({ clock: () => new Date('2026-03-02T01:30:00Z'), cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
let people: Array<{ username: string; actor: Actor }> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  await seedDemo(database.db);
  const rows = await database.db('users').whereIn('username', DEMO_USERS.map((u) => u.username));
  people = DEMO_USERS.map((u) => ({ username: u.username, actor: toActor(rows.find((r) => r.username === u.username)) }));
});
afterAll(() => database?.destroy());

// ---- the oracle: who the chart says may send, restated from state metadata ------------------

const covers = (userRegion: string, caseRegion: string) => caseRegion.startsWith(userRegion);

function declaredSenders(def: ProcedureDefinition, snap: AnyMachineSnapshot, type: string, caseRegion: string): Set<string> {
  const carriers = activeLeaves(snap).flatMap((l) => (!l.final && l.meta.task?.actions.includes(type) ? [l.meta.task] : []));
  const by = def.events[type].sentBy;
  const match = (role: string, departments: string[]) =>
    DEMO_USERS.filter((u) => u.roles.includes(role) && departments.includes(u.department) && covers(u.region_code, caseRegion)).map((u) => u.username);
  if (carriers.length) return new Set(carriers.flatMap((t) => match(t.role, [t.department])));
  if (!by) return new Set();
  if ('system' in by) return new Set(['system']);
  return new Set(match(by.role, by.department === 'accepting' ? def.acceptingDepartments : [by.department]));
}

function mayView(def: ProcedureDefinition, username: string, caseRegion: string, taskDepartments: Set<string>): boolean {
  const u = DEMO_USERS.find((x) => x.username === username)!;
  if (!covers(u.region_code, caseRegion)) return false;
  if (u.roles.includes('supervisor') || u.roles.includes('admin')) return true;
  if (u.roles.includes('clerk') && def.acceptingDepartments.includes(u.department)) return true;
  return taskDepartments.has(u.department);
}

// ---- reaching the states ----------------------------------------------------------------------

function effectiveSettings(regionCode: string): Record<string, unknown> {
  const region = DEMO_REGIONS.find((r) => r.code === regionCode)!;
  return { ...(region.parent_code ? effectiveSettings(region.parent_code) : {}), ...region.settings };
}
const sameSettings = (a: Record<string, unknown>, b: Record<string, unknown>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

function residentIdForAge(age: number): string {
  const body = `110105${2026 - age - 1}0101001`;
  return body + checkCharacter(body);
}

/** Vertices where each (event, handling state) pair first becomes known, and the BFS tree reaching them. */
function plan(m: VariantModel) {
  const parent = new Map<string, { from: string; event: { type: string; data: Record<string, unknown> } } | null>([[m.initial, null]]);
  const order = [m.initial];
  const out = new Map<string, typeof m.edges>();
  for (const e of m.edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  for (let i = 0; i < order.length; i++) {
    for (const e of out.get(order[i]) ?? []) if (!parent.has(e.to)) (parent.set(e.to, { from: e.from, event: e.event }), order.push(e.to));
  }
  const seen = new Set<string>();
  const chosen = new Set<string>();
  for (const key of order) {
    const snap = m.vertices.get(key)!;
    for (const type of knownEvents(snap)) {
      const sources = [...new Set(getNextTransitions(snap).filter((t: any) => t.eventType === type).map((t: any) => t.source.id))].sort();
      const pair = `${type}@${sources.join('|')}`;
      if (!seen.has(pair)) (seen.add(pair), chosen.add(key));
    }
  }
  // Children in the tree that lead to a chosen vertex.
  const needed = new Set<string>();
  for (const key of chosen) for (let k: string | undefined = key; k && !needed.has(k); k = parent.get(k)?.from) needed.add(k);
  const children = new Map<string, string[]>();
  for (const key of order) {
    const p = parent.get(key);
    if (p && needed.has(key)) children.set(p.from, [...(children.get(p.from) ?? []), key]);
  }
  return { parent, chosen, children, pairs: seen.size };
}

/** Runs `fn` in a savepoint that is always rolled back; returns what it returned or threw. */
async function tryInSavepoint<T>(trx: Knex.Transaction, fn: (sp: Knex.Transaction) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  const sp = await trx.transaction();
  try {
    return { ok: true, value: await fn(sp) };
  } catch (error) {
    return { ok: false, error };
  } finally {
    await sp.rollback();
  }
}

const refusal = (r: { ok: boolean; error?: unknown }) => (r.ok ? 'ok' : r.error instanceof DomainError ? `${r.error.kind}:${r.error.code}` : `crash:${String(r.error)}`);

interface Tally {
  tries: number;
  allowed: number;
  vertices: number;
}

async function checkVertex(trx: Knex.Transaction, def: ProcedureDefinition, caseId: string, caseRegion: string, snap: AnyMachineSnapshot, taskDepartments: Set<string>, tally: Tally) {
  // PGlite answers in microtasks: without a turn of the event loop now and then, a long matrix
  // starves vitest's worker RPC (seen as "Timeout calling onTaskUpdate" on a loaded machine).
  await new Promise((resolve) => setImmediate(resolve));
  const known = knownEvents(snap);
  const where = activeLeaves(snap).map((l) => l.stateId).join(' + ');
  const mayByUser = new Map<string, string[]>(people.map((p) => [p.username, []]));
  for (const type of known) {
    const examples = eventsFor(def, snap).filter((e) => e.type === type);
    const data = (examples.find((e) => snap.can(e)) ?? examples[0]).data;
    const guardsAccept = examples.some((e) => snap.can(e));
    const senders = declaredSenders(def, snap, type, caseRegion);
    for (const { username, actor } of [...people, { username: 'system', actor: SYSTEM_ACTOR }]) {
      const result = await tryInSavepoint(trx, (sp) => engine.sendEvent(sp, actor, caseId, { type, data }));
      tally.tries++;
      const got = refusal(result);
      const label = `${def.id} [${where}] ${type} by ${username}`;
      if (senders.has(username)) {
        tally.allowed++;
        expect(got, label).toBe(guardsAccept ? 'ok' : 'conflict:EVENT_REFUSED');
        if (username !== 'system') mayByUser.get(username)!.push(type);
      } else {
        expect(got, label).toMatch(/^(forbidden|not_found):/);
        // Outside need-to-know the case does not exist; inside, the refusal is 403.
        if (username !== 'system') expect(got.startsWith('not_found'), `${label}: ${got}`).toBe(!mayView(def, username, caseRegion, taskDepartments));
      }
    }
  }
  // Caller-aware actions: the view lists exactly what this user could send now.
  for (const { username, actor } of people) {
    const view = await tryInSavepoint(trx, (sp) => engine.caseView(sp, actor, caseId));
    const label = `${def.id} [${where}] view of ${username}`;
    if (!mayView(def, username, caseRegion, taskDepartments)) {
      expect(refusal(view), label).toBe('not_found:NOT_FOUND');
      continue;
    }
    expect(view.ok, `${label}: ${refusal(view)}`).toBe(true);
    if (!view.ok) continue;
    expect(view.value.allowedEvents.map((a) => a.type).sort(), label).toEqual(mayByUser.get(username)!.sort());
    const taskTypes = view.value.openTasks.flatMap((t) => t.actions.map((a) => a.type));
    for (const type of taskTypes) expect(mayByUser.get(username), `${label}: task action ${type}`).toContain(type);
    expect(view.value.allowedEvents.some((a) => def.events[a.type].sentBy && 'system' in def.events[a.type].sentBy!), label).toBe(false);
  }
  tally.vertices++;
}

async function walkVariant(def: ProcedureDefinition, m: VariantModel, tally: Tally) {
  const { parent, chosen, children } = plan(m);
  const clerk = DEMO_USERS.find((u) => u.roles.includes('clerk') && def.acceptingDepartments.includes(u.department) && sameSettings(effectiveSettings(u.region_code), m.variant.regionSettings))!;
  const opener = people.find((p) => p.username === clerk.username)!.actor;
  const caseRegion = clerk.region_code;
  const trx = await database.db.transaction();
  try {
    const applicant = { name: '赵六', idNumber: residentIdForAge(m.variant.applicantAge ?? 40), phone: '13900139000' };
    const { id } = await engine.openCase(trx, opener, { procedureId: def.id, applicant, application: m.variant.application });
    const taskDepts = (snap: AnyMachineSnapshot) => activeLeaves(snap).flatMap((l) => (l.meta.task && !l.final ? [l.meta.task.department] : []));
    const visit = async (sp: Knex.Transaction, key: string, departments: Set<string>): Promise<void> => {
      const snap = m.vertices.get(key)!;
      const had = new Set([...departments, ...taskDepts(snap)]);
      if (chosen.has(key)) await checkVertex(sp, def, id, caseRegion, snap, had, tally);
      for (const child of children.get(key) ?? []) {
        const { event } = parent.get(child)!;
        const senders = [...declaredSenders(def, snap, event.type, caseRegion)];
        const sender = senders[0] === 'system' ? SYSTEM_ACTOR : people.find((p) => p.username === senders[0])?.actor;
        expect(sender, `${def.id}: nobody may send ${event.type} at ${key}`).toBeDefined();
        const step = await tryInSavepoint(sp, async (inner) => {
          await engine.sendEvent(inner, sender!, id, event);
          await visit(inner, child, had);
        });
        if (!step.ok) throw step.error;
      }
    };
    await visit(trx, m.initial, new Set());
  } finally {
    await trx.rollback();
  }
}

describe('event authorization matrix, generated from the charts', () => {
  const models = new Map(procedureDefinitions.map((def) => [def.id, exploreProcedure(def)]));
  for (const def of procedureDefinitions) {
    const pairs = models.get(def.id)!.reduce((n, m) => n + plan(m).pairs, 0);
    it(`${def.id}: exactly the declared senders may send each event (${pairs} event × state pairs × ${DEMO_USERS.length + 1} senders)`, async () => {
      const tally: Tally = { tries: 0, allowed: 0, vertices: 0 };
      const started = performance.now();
      for (const m of models.get(def.id)!) await walkVariant(def, m, tally);
      console.log(`authz matrix ${def.id}: ${tally.vertices} states, ${tally.tries} tries, ${tally.allowed} by declared senders, ${Math.round(performance.now() - started)} ms`);
      expect(tally.allowed).toBeGreaterThan(0);
      expect(tally.tries).toBeGreaterThan(tally.allowed);
    });
  }
});

describe('model checking demands a sender for every event', () => {
  const procedure = (states: Record<string, unknown>, events: ProcedureDefinition['events']) => testProcedure('nosender', states, events);
  const task = (actions: string[]) => taskState('办理中', { title: 't', department: 'township-window', role: 'clerk', actions, timeLimit: cd(1, 'test') });
  const spec = (extra: object = {}) => ({ label: 'e', schema: z.object({}), ...extra });

  it('fails a chart whose event no task carries and no sentBy declares, naming the event and the state', () => {
    const problems = validateProcedure(
      procedure(
        { start: { meta: task(['GO']), on: { GO: 'end', CANCEL: 'end' } }, end: { type: 'final', meta: stage('办结') } },
        { GO: spec(), CANCEL: spec() },
      ),
    );
    expect(problems).toEqual(['nosender: event CANCEL, accepted in x.start, has no sender: no open task carries it and it declares no sentBy']);
  });

  it('accepts the same chart once the event declares its sender, and refuses a system event as a task action', () => {
    const states = { start: { meta: task(['GO']), on: { GO: 'end', CANCEL: 'end' } }, end: { type: 'final', meta: stage('办结') } };
    expect(validateProcedure(procedure(states, { GO: spec(), CANCEL: spec({ sentBy: { role: 'clerk', department: 'accepting' } }) }))).toEqual([]);
    expect(validateProcedure(procedure(states, { GO: spec({ sentBy: { system: true } }), CANCEL: spec({ sentBy: { system: true } }) }))).toEqual([
      'nosender: state "x.start" lists task action GO, which only the system may send',
    ]);
    expect(validateProcedure(procedure(states, { GO: spec(), CANCEL: spec({ sentBy: { role: 'clerk', department: 'tax' } }) }))).toEqual([
      'nosender: event CANCEL is sent by department "tax", which the procedure does not list',
    ]);
  });
});
