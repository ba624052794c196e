import { setup } from 'xstate';
import { z } from 'zod';
import type { ProcedureDefinition } from '../../workflows/index.ts';
import { cd } from '../../workflows/shared/meta.ts';

/** A minimal procedure around `states`, for tests that break charts on purpose. */
export function testProcedure(id: string, states: Record<string, unknown>, events: ProcedureDefinition['events']): ProcedureDefinition {
  return {
    id,
    version: 1,
    code: 'XX',
    name: '测试',
    legalBasis: [],
    machine: setup({}).createMachine({ id: 'x', initial: 'start', states } as any),
    departments: ['township-window'],
    acceptingDepartments: ['township-window'],
    materials: [],
    totalTimeLimit: cd(1, 'test'),
    applicationSchema: z.object({}),
    events,
    createInput: () => ({}),
    variants: [{ name: 'v', application: {}, regionSettings: {} }],
  };
}
