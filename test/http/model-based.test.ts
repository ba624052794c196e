import { describe, expect, it } from 'vitest';
import { procedureDefinitions, type ProcedureDefinition } from '../../workflows/index.ts';
import { activeLeaves, initialSnapshot, resolve, stageText } from '../../src/engine/chart.ts';
import { SYSTEM_ACTOR } from '../../src/engine/engine.ts';
import { generatePaths, inputFor, type ModelPath } from '../../src/engine/model.ts';
import { checkCharacter } from '../../src/engine/references.ts';
import { DEMO_REGIONS, DEMO_USERS } from '../../src/seed.ts';
import { useTestApp } from '../support/app.ts';

/**
 * Model-based tests: paths generated from each chart with @xstate/graph (every state, every
 * transition), each driven through the HTTP API by the user whose department, role and region
 * own the step. Adding a state or transition to a chart adds paths here with no test to write.
 */
const ctx = useTestApp();

const OPENED_AT = new Date('2026-03-02T01:30:00Z'); // the test clock's default: 2026-03-02 in China

/** A valid resident ID for someone `age` years old on the test date. */
function residentIdForAge(age: number): string {
  const body = `110105${2026 - age - 1}0101001`;
  return body + checkCharacter(body);
}

function effectiveSettings(regionCode: string): Record<string, unknown> {
  const region = DEMO_REGIONS.find((r) => r.code === regionCode)!;
  return { ...(region.parent_code ? effectiveSettings(region.parent_code) : {}), ...region.settings };
}

const sameSettings = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

function clerkFor(def: ProcedureDefinition, settings: Record<string, unknown>) {
  const clerk = DEMO_USERS.find(
    (u) => u.roles.includes('clerk') && def.acceptingDepartments.includes(u.department) && sameSettings(effectiveSettings(u.region_code), settings),
  );
  if (!clerk) throw new Error(`no demo clerk for ${def.id} in a region with settings ${JSON.stringify(settings)}`);
  return clerk;
}

function reviewerFor(department: string, role: string, regionCode: string) {
  const user = DEMO_USERS.find((u) => u.department === department && u.roles.includes(role) && regionCode.startsWith(u.region_code));
  if (!user) throw new Error(`no demo user for ${department}/${role} in ${regionCode}`);
  return user;
}

const taskStates = (state: any) =>
  activeLeaves(state)
    .filter((l) => l.meta.task && !l.final)
    .map((l) => l.stateId)
    .sort();

async function drive(def: ProcedureDefinition, path: ModelPath) {
  const clerk = clerkFor(def, path.variant.regionSettings);
  const region = clerk.region_code;
  const opener = await ctx.as(clerk.username);
  const applicant = { name: '赵六', idNumber: residentIdForAge(path.variant.applicantAge ?? 40), phone: '13900139000' };
  const created = await opener.post('/api/cases', { procedureId: def.id, applicant, application: path.variant.application });
  expect(created.statusCode, created.body).toBe(201);
  const { id, reference, trackingCode } = created.json();

  const initial = resolve(def, initialSnapshot(def, inputFor(def, path.variant)));
  let view = (await opener.get(`/api/cases/${id}`)).json();
  expect(view.openTasks.map((t: any) => t.stateId).sort()).toEqual(taskStates(initial));
  const actors = [clerk.display_name];

  for (const [i, { event, state }] of path.steps.entries()) {
    const where = `step ${i + 1} ${event.type}`;
    const spec = def.events[event.type];
    if (spec.sentBy && 'system' in spec.sentBy) {
      // Deadline events come from the engine's timer worker, not from a person over HTTP.
      await ctx.database.db.transaction((trx) => ctx.engine.sendEvent(trx, SYSTEM_ACTOR, id, event));
      actors.push(SYSTEM_ACTOR.name);
    } else {
      // Views list actions for their caller only, so find the carrying task in the database.
      const task = (await ctx.database.db('tasks').where({ case_id: id }).whereIn('status', ['open', 'claimed'])).find((t: any) => t.actions.includes(event.type));
      let res;
      if (task) {
        const user = reviewerFor(task.department, task.role, region);
        res = await (await ctx.as(user.username)).post(`/api/tasks/${task.id}/complete`, { outcome: event.type, data: event.data });
        actors.push(user.display_name);
      } else {
        const sender = spec.sentBy as { role: string; department: string };
        const departments = sender.department === 'accepting' ? def.acceptingDepartments : [sender.department];
        const user = DEMO_USERS.find((u) => u.roles.includes(sender.role) && departments.includes(u.department) && region.startsWith(u.region_code))!;
        res = await (await ctx.as(user.username)).post(`/api/cases/${id}/events`, { type: event.type, data: event.data, expectedVersion: view.version });
        actors.push(user.display_name);
      }
      expect(res.statusCode, `${where}: ${res.body}`).toBe(200);
    }

    view = (await opener.get(`/api/cases/${id}`)).json();
    const expectedLeaves = activeLeaves(state);
    expect(view.openTasks.map((t: any) => t.stateId).sort(), where).toEqual(taskStates(state));
    expect(view.stage, where).toBe(stageText(expectedLeaves));
    expect(view.status, where).toBe(state.status === 'done' ? 'done' : 'running');
    expect(view.history.map((h: any) => h.type), where).toEqual(['CASE_OPENED', ...path.steps.slice(0, i + 1).map((s) => s.event.type)]);
    expect(view.history.map((h: any) => h.actor), where).toEqual(actors);
    const citizen = await ctx.app.inject({ method: 'GET', url: `/api/track/${reference}?code=${trackingCode}` });
    expect(citizen.json().stage, where).toBe(stageText(expectedLeaves));
  }
}

const summary: string[] = [];
for (const def of procedureDefinitions) {
  const paths = generatePaths(def);
  const steps = paths.reduce((n, p) => n + p.steps.length, 0);
  summary.push(`${def.id}: ${paths.length} paths, ${steps} steps`);
  describe(`${def.name} (${def.id}): ${paths.length} generated paths`, () => {
    paths.forEach((path, i) => {
      it(`#${i + 1} [${path.variant.name}] ${path.covers}`, () => drive(def, path));
    });
  });
}
console.log(`model-based paths per procedure — ${summary.join('; ')}`);

// Keeps the OPENED_AT assumption honest: the test app's clock must start where the IDs assume.
it('runs on the clock the generated applicants were born against', () => {
  expect(ctx.clock.now().toISOString()).toBe(OPENED_AT.toISOString());
});
