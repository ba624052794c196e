import { departmentName, type ProcedureDefinition, type StateMeta } from '../../workflows/index.ts';
import { toMermaid } from './diagram.ts';

export interface StateDescription {
  id: string;
  path: string;
  type: string;
  stage: string;
  task: StateMeta['task'] | null;
  clockStopped: boolean;
  transitions: Array<{ event: string; label: string; targets: string[] }>;
  states: StateDescription[];
}

/** A JSON description of a chart for clients and docs: states, tasks, time limits, transitions. */
export function describeProcedure(def: ProcedureDefinition) {
  return {
    id: def.id,
    version: def.version,
    code: def.code,
    name: def.name,
    legalBasis: def.legalBasis,
    departments: Object.fromEntries(def.departments.map((d) => [d, departmentName(d)])),
    acceptingDepartments: def.acceptingDepartments,
    materials: def.materials,
    totalTimeLimit: def.totalTimeLimit,
    events: Object.entries(def.events).map(([type, spec]) => ({
      type,
      label: spec.label,
      sentBy: spec.sentBy ?? null,
      dataSchema: spec.schema.toJSONSchema?.() ?? null,
    })),
    root: describeNode(def, def.machine.root),
    diagram: toMermaid(def),
  };
}

function describeNode(def: ProcedureDefinition, node: any): StateDescription {
  const meta = (node.meta ?? {}) as Partial<StateMeta>;
  const transitions: StateDescription['transitions'] = [];
  for (const [event, list] of node.transitions as Map<string, any[]>) {
    if (event.startsWith('xstate.')) continue;
    transitions.push({
      event,
      label: def.events[event]?.label ?? event,
      targets: [...new Set(list.flatMap((t: any) => (t.target ?? []).map((s: any) => s.id as string)))],
    });
  }
  return {
    id: node.id,
    path: node.path.join('.'),
    type: node.type,
    stage: meta.stage ?? '',
    task: meta.task ?? null,
    clockStopped: Boolean(meta.clockStopped),
    transitions,
    states: Object.values(node.states as Record<string, any>).map((child) => describeNode(def, child)),
  };
}
