import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { getStateNodes } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { definitionMappings, leafPaths, loadedDefinitions, stateValueOf, type ProcedureDefinition } from '../../workflows/index.ts';
import { initialSnapshot, step, type PersistedSnapshot } from '../../src/engine/chart.ts';
import { findMapping, mapCase } from '../../src/engine/commands/migrateDefinition.ts';
import { inputFor } from '../../src/engine/model.ts';

// The declared mappings and the generic mapper, without a database.
const def = (id: string, version: number) => loadedDefinitions.find((d) => d.id === id && d.version === version)!;

/** Leaf paths of every state node of a chart that a case can rest in. */
function restingLeaves(d: ProcedureDefinition): string[] {
  return (getStateNodes(d.machine.root) as any[])
    .filter((n) => (n.type === 'atomic' || n.type === 'final') && !(n.always?.length > 0))
    .map((n) => (n.path as string[]).join('.'));
}

describe('declared definition mappings', () => {
  for (const m of definitionMappings) {
    it(`${m.id}: every resting source state is kept, renamed, removed with a target or refused; every target exists`, () => {
      const [from, to] = [def(m.procedureId, m.from), def(m.procedureId, m.to)];
      expect(from && to, 'both versions are loaded').toBeTruthy();
      const targets = new Set(restingLeaves(to).concat((getStateNodes(to.machine.root) as any[]).filter((n) => n.type === 'atomic').map((n) => n.path.join('.'))));
      const unaccounted = restingLeaves(from).filter((leaf) => {
        if (Object.hasOwn(m.refused, leaf)) return false;
        const target = m.renamed[leaf] ?? m.removed[leaf]?.target ?? leaf;
        return !targets.has(target);
      });
      expect(unaccounted).toEqual([]);
      for (const region of Object.keys(m.addedRegions)) expect(getStateNodes(to.machine.root).some((n: any) => n.path.join('.') === region), region).toBe(true);
    });
  }

  it('round-trips state values through leaf paths', () => {
    const value = { handling: { assistance: { investigation: { informationCheck: 'checking', homeVisit: 'visited' } }, medicalAssistance: 'review' } };
    expect(stateValueOf(leafPaths(value))).toEqual(value);
    expect(stateValueOf(leafPaths('acceptance'))).toBe('acceptance');
  });
});

describe('the generic mapper', () => {
  const from = def('social-assistance', 1);
  const to = def('social-assistance', 2);
  const mapping = findMapping('social-assistance', 1, 2);
  const accepted = (referToMedicalAssistance: boolean): PersistedSnapshot =>
    step(from, initialSnapshot(from, inputFor(from, from.variants[0])), { type: 'ACCEPT', data: { referToMedicalAssistance } }).snapshot;

  it('maps a referred case onto version 2 with the context upgraded', () => {
    const m = mapCase(mapping, from, to, accepted(true));
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.toLeaves).toContain('handling.medicalAssistance.pending');
    expect(m.toLeaves).toContain('handling.housingAssistance.routing');
    expect(m.snapshot.context).toMatchObject({ referrals: ['medical'], referralOutcomes: {} });
    expect(m.snapshot.context).not.toHaveProperty('referToMedicalAssistance');
  });

  it('refuses a case whose context contradicts its state, a snapshot foreign to its version, a state with no declared target, and an unstable result', () => {
    const contradictory = { ...accepted(true), context: { ...(accepted(true).context as object), referToMedicalAssistance: false } };
    expect(mapCase(mapping, from, to, contradictory)).toMatchObject({ ok: false, reason: expect.stringContaining('不一致') });

    const unknown = { ...accepted(false), value: { handling: { assistance: 'somewhereNew', medicalAssistance: 'notReferred' } } };
    expect(mapCase(mapping, from, to, unknown)).toMatchObject({ ok: false, reason: expect.stringContaining('不符') });
    // Without the declaration for the removed 未转办医疗救助 state, a case there has nowhere to go.
    const forgetful = { ...mapping, removed: {} };
    expect(mapCase(forgetful, from, to, accepted(false))).toMatchObject({ ok: false, reason: expect.stringContaining('未声明') });

    // A mapping that leaves 医疗救助 waiting in routing although it was referred: v2 would move on by itself.
    const sloppy = { ...mapping, renamed: { 'handling.medicalAssistance.review': 'handling.medicalAssistance.routing' } };
    expect(mapCase(sloppy, from, to, accepted(true))).toMatchObject({ ok: false, reason: expect.stringContaining('稳定') });
  });

  it('leaves finished cases alone', () => {
    const withdrawn = step(from, accepted(false), { type: 'WITHDRAW', data: { reason: '申请人主动撤回' } }).snapshot;
    expect(mapCase(mapping, from, to, withdrawn)).toMatchObject({ ok: false });
  });
});

describe('npm run cases:migrate', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.resolve(import.meta.dirname, '../../src/cli/cases-migrate.ts'), ...args], { encoding: 'utf8', timeout: 60_000 });

  it('exits non-zero with a clear message on bad arguments, before touching a database', () => {
    const missing = cli('--from', '1', '--to', '2');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--procedure is required');
    expect(missing.stderr).toContain('usage: npm run cases:migrate');
    const backwards = cli('--procedure', 'social-assistance', '--from', '2', '--to', '1');
    expect(backwards.status).toBe(2);
    expect(backwards.stderr).toContain('must be greater than --from');
    expect(cli('--procedure', 'social-assistance', '--from', 'one', '--to', '2').stderr).toContain('whole number');
    expect(cli('--procedure', 'social-assistance', '--from', '1', '--to', '2', '--force').stderr).toContain('unknown argument: --force');
  });
});
