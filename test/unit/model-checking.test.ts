import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { procedureDefinitions, retainedDefinitions, type ProcedureDefinition } from '../../workflows/index.ts';
import { exploreProcedure, generatePaths, validateProcedure } from '../../src/engine/model.ts';
import { cd, stage, taskState } from '../../workflows/shared/meta.ts';
import { testProcedure } from '../support/procedures.ts';

describe('model checking the shipped procedures', () => {
  for (const def of procedureDefinitions) {
    it(`${def.id} is sound: every state reachable, no dead end, tasks complete, events typed, regions join`, () => {
      expect(validateProcedure(def)).toEqual([]);
    });
  }

  for (const def of retainedDefinitions) {
    it(`${def.id}@${def.version}, kept for running cases, is still sound and older than the current version`, () => {
      expect(validateProcedure(def)).toEqual([]);
      expect(procedureDefinitions.find((d) => d.id === def.id)!.version).toBeGreaterThan(def.version);
    });
  }

  it('generates paths that visit every state and take every transition of every chart', () => {
    for (const def of procedureDefinitions) {
      const models = exploreProcedure(def);
      const paths = generatePaths(def, models);
      const nodeIds = (s: any): string[] => s._nodes.map((n: any) => n.id);
      // Every path starts at its variant's initial state, then visits each step's state.
      const visited = new Set([
        ...models.flatMap((m) => nodeIds(m.vertices.get(m.initial))),
        ...paths.flatMap((p) => p.steps.flatMap((s) => nodeIds(s.state))),
      ]);
      for (const m of models) for (const s of m.vertices.values()) for (const n of (s as any)._nodes) expect(visited, `${def.id} ${n.id}`).toContain(n.id);
    }
  });
});

// A small procedure to break on purpose.
const procedure = (states: Record<string, unknown>, events: string[] = ['GO', 'DONE']): ProcedureDefinition =>
  testProcedure('broken', states, Object.fromEntries(events.map((e) => [e, { label: e, schema: z.object({}) }])));

const task = (actions: string[], department = 'township-window') =>
  taskState('办理中', { title: 't', department, role: 'clerk', actions, timeLimit: cd(1, 'test') });

describe('the validator rejects broken charts, naming the state', () => {
  it('finds an unreachable state', () => {
    const problems = validateProcedure(
      procedure({
        start: { meta: task(['GO']), on: { GO: 'end' } },
        orphan: { id: 'x.orphan', meta: task(['DONE']), on: { DONE: 'end' } },
        end: { type: 'final', meta: stage('办结') },
      }),
    );
    expect(problems).toEqual(['broken: state "x.orphan" is unreachable']);
  });

  it('finds a dead end and a trap cycle', () => {
    const problems = validateProcedure(
      procedure(
        {
          start: { meta: task(['GO', 'LOOP']), on: { GO: 'stuck', LOOP: 'ping', DONE: 'end' } },
          stuck: { meta: stage('卡住') },
          ping: { meta: task(['PONG']), on: { PONG: 'pong' } },
          pong: { meta: task(['PING']), on: { PING: 'ping' } },
          end: { type: 'final', meta: stage('办结') },
        },
        ['GO', 'LOOP', 'PING', 'PONG', 'DONE'],
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'broken: state "x.stuck" can never reach a final state (dead end or trap cycle) [v]',
        'broken: state "x.ping" can never reach a final state (dead end or trap cycle) [v]',
        'broken: state "x.pong" can never reach a final state (dead end or trap cycle) [v]',
      ]),
    );
  });

  it('finds a task without a department, an action the state does not accept, and an event without a schema', () => {
    const problems = validateProcedure(
      procedure({
        start: { meta: task(['GO', 'NOPE'], ''), on: { GO: 'end', UNTYPED: 'end' } },
        end: { type: 'final', meta: stage('办结') },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'broken: state "x.start" opens a task without a department',
        'broken: state "x.start" lists task action NOPE, which the state does not accept',
        'broken: state "x.start" accepts event UNTYPED, which has no schema',
      ]),
    );
  });

  it('finds a parallel state that never joins and a state without a citizen-facing stage', () => {
    const problems = validateProcedure(
      procedure({
        start: {
          type: 'parallel',
          on: { DONE: 'end' },
          states: {
            a: { initial: 'w', states: { w: { meta: task(['GO']), on: { GO: 'x' } }, x: { type: 'final', meta: stage('a') } } },
            b: { initial: 'w', states: { w: {} } },
          },
        },
        end: { type: 'final', meta: stage('办结') },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'broken: state "x.start" is parallel but never joins (no onDone)',
        'broken: state "x.start" region "b" has no final state, so the regions cannot join',
        'broken: state "x.start.b.w" has no citizen-facing stage (meta.stage)',
      ]),
    );
  });
});
