import { getAdjacencyMap, getStateNodes, type AdjacencyMap } from '@xstate/graph';
import { getNextTransitions, type AnyMachineSnapshot } from 'xstate';
import type { CaseEvent, ModelVariant, ProcedureDefinition, StateMeta } from '../../workflows/index.ts';
import { activeLeaves, knownEvents } from './chart.ts';

/**
 * Model checking and path generation over a procedure's statechart, with @xstate/graph.
 *
 * We use the standalone @xstate/graph (the stack's choice) and feed it our own events: at each
 * state, every event the state knows, with each example payload from the procedure's event
 * specs. That keeps synthetic `xstate.*` events out and lets guards that read event data take
 * every branch. A vertex is a state value plus the procedure's `modelKey` of the context, so
 * counters (objection rounds, paid months) do not make the graph infinite.
 */

export interface ModelEdge {
  from: string;
  to: string;
  event: CaseEvent;
}

export interface VariantModel {
  variant: ModelVariant;
  initial: string;
  vertices: Map<string, AnyMachineSnapshot>;
  edges: ModelEdge[];
}

export function eventsFor(def: ProcedureDefinition, snapshot: AnyMachineSnapshot): CaseEvent[] {
  const out: CaseEvent[] = [];
  for (const type of knownEvents(snapshot)) {
    const examples = def.events[type]?.examples;
    const list: Array<Record<string, unknown>> = typeof examples === 'function' ? examples(snapshot.context) : (examples ?? [{}]);
    for (const data of list) out.push({ type, data });
  }
  return out;
}

export function vertexKey(def: ProcedureDefinition, snapshot: AnyMachineSnapshot): string {
  return `${JSON.stringify(snapshot.value)}|${JSON.stringify(def.modelKey?.(snapshot.context) ?? null)}`;
}

export function inputFor(def: ProcedureDefinition, variant: ModelVariant): unknown {
  return def.createInput({
    application: def.applicationSchema.parse(variant.application),
    regionSettings: variant.regionSettings,
    applicantAge: variant.applicantAge ?? 40,
  });
}

export function exploreVariant(def: ProcedureDefinition, variant: ModelVariant): VariantModel {
  const serialize = (s: AnyMachineSnapshot) => vertexKey(def, s);
  const adjacency: AdjacencyMap<AnyMachineSnapshot, CaseEvent> = getAdjacencyMap(def.machine, {
    input: inputFor(def, variant),
    events: (s: AnyMachineSnapshot) => eventsFor(def, s),
    serializeState: serialize,
    serializeEvent: (e: CaseEvent) => JSON.stringify(e),
  } as any) as any;
  const vertices = new Map<string, AnyMachineSnapshot>();
  const edges: ModelEdge[] = [];
  let initial = '';
  for (const [key, value] of Object.entries(adjacency)) {
    if (!initial) initial = key;
    vertices.set(key, value.state);
    for (const t of Object.values(value.transitions) as Array<{ state: AnyMachineSnapshot; event: CaseEvent }>) {
      edges.push({ from: key, to: serialize(t.state), event: t.event });
    }
  }
  return { variant, initial, vertices, edges };
}

export function exploreProcedure(def: ProcedureDefinition): VariantModel[] {
  return def.variants.map((v) => exploreVariant(def, v));
}

const isFinalSnapshot = (s: AnyMachineSnapshot) => s.status === 'done';

/**
 * Proves a chart sound enough to run cases on. Returns problems, each naming the state; empty
 * means sound. The service refuses to start on a chart with problems.
 */
export function validateProcedure(def: ProcedureDefinition, models: VariantModel[] = exploreProcedure(def)): string[] {
  const problems: string[] = [];
  const where = (node: any) => `${def.id}: state "${node.id}"`;
  const nodes = getStateNodes(def.machine.root) as any[];
  // Deadline events are sent by the engine alone, and the state must be listening for them.
  const checkSystemEvent = (node: any, type: string, accepted: Set<string>) => {
    const spec = def.events[type];
    if (!spec || !spec.sentBy || !('system' in spec.sentBy)) problems.push(`${where(node)} times out with ${type}, which is not a system event`);
    if (!accepted.has(type)) problems.push(`${where(node)} times out with ${type}, which the state does not accept`);
  };

  for (const node of nodes) {
    const meta = (node.meta ?? {}) as Partial<StateMeta>;
    if ((node.type === 'atomic' || node.type === 'final') && !meta.stage) problems.push(`${where(node)} has no citizen-facing stage (meta.stage)`);
    const accepted = new Set<string>();
    for (let n = node; n; n = n.parent) for (const type of n.transitions.keys()) accepted.add(type);
    for (const type of node.transitions.keys() as Iterable<string>) {
      if (type.startsWith('xstate.') || type === '') continue;
      if (!Object.hasOwn(def.events, type)) problems.push(`${where(node)} accepts event ${type}, which has no schema`);
    }
    if (meta.task) {
      const t = meta.task;
      if (!t.department) problems.push(`${where(node)} opens a task without a department`);
      else if (!def.departments.includes(t.department)) problems.push(`${where(node)} opens a task for department "${t.department}", which the procedure does not list`);
      if (!t.role) problems.push(`${where(node)} opens a task without a role`);
      if (!t.actions?.length) problems.push(`${where(node)} opens a task with no allowed actions`);
      for (const a of t.actions ?? []) {
        if (!accepted.has(a)) problems.push(`${where(node)} lists task action ${a}, which the state does not accept`);
        const by = def.events[a]?.sentBy;
        if (by && 'system' in by) problems.push(`${where(node)} lists task action ${a}, which only the system may send`);
        if (!Object.hasOwn(def.events, a)) problems.push(`${where(node)} lists task action ${a}, which has no schema`);
      }
      if (!t.timeLimit || !(t.timeLimit.days > 0) || !['WD', 'CD'].includes(t.timeLimit.unit)) problems.push(`${where(node)} opens a task without a valid time limit`);
      if (t.overdueEvent) checkSystemEvent(node, t.overdueEvent, accepted);
    }
    if (meta.timer) {
      if (!(meta.timer.days > 0) || !['WD', 'CD'].includes(meta.timer.unit)) problems.push(`${where(node)} has a timer without a valid period`);
      checkSystemEvent(node, meta.timer.event, accepted);
    }
    if (node.type === 'parallel') {
      const joins = [...node.transitions.keys()].some((k: string) => k === `xstate.done.state.${node.id}`);
      if (!joins) problems.push(`${where(node)} is parallel but never joins (no onDone)`);
      for (const region of Object.values(node.states) as any[]) {
        const hasFinal = getStateNodes(region).some((n: any) => n.type === 'final' && n.parent === region);
        if (!hasFinal) problems.push(`${where(node)} region "${region.key}" has no final state, so the regions cannot join`);
      }
    }
  }

  // Reachability over every variant's state graph.
  const reached = new Set<string>();
  for (const m of models) for (const s of m.vertices.values()) for (const n of (s as any)._nodes) reached.add(n.id);
  for (const node of nodes) {
    // Transient routing states (only eventless `always` transitions) are passed through, never rested in.
    const transient = node.always?.length > 0;
    if (node !== def.machine.root && !transient && !reached.has(node.id)) problems.push(`${where(node)} is unreachable`);
  }

  // Every event has a declared sender wherever it is accepted: a live task carrying it, or `sentBy`.
  for (const [type, spec] of Object.entries(def.events)) {
    const by = spec.sentBy;
    if (!by || 'system' in by) continue;
    if (by.department === 'accepting' ? !def.acceptingDepartments.length : !def.departments.includes(by.department)) {
      problems.push(`${def.id}: event ${type} is sent by department "${by.department}", which the procedure does not list`);
    }
  }
  for (const m of models) {
    for (const s of m.vertices.values()) {
      const leaves = activeLeaves(s);
      const carried = new Set(leaves.flatMap((l) => (l.final ? [] : (l.meta.task?.actions ?? []))));
      for (const type of knownEvents(s)) {
        if (carried.has(type) || def.events[type]?.sentBy) continue;
        problems.push(`${def.id}: event ${type}, accepted in ${leaves.map((l) => l.stateId).join(' + ')}, has no sender: no open task carries it and it declares no sentBy`);
      }
    }
  }

  // Every vertex must be able to reach a final one: no dead ends, no trap cycles.
  for (const m of models) {
    const incoming = new Map<string, string[]>();
    for (const e of m.edges) incoming.set(e.to, [...(incoming.get(e.to) ?? []), e.from]);
    const canFinish = new Set([...m.vertices].filter(([, s]) => isFinalSnapshot(s)).map(([k]) => k));
    const queue = [...canFinish];
    while (queue.length) {
      for (const prev of incoming.get(queue.pop()!) ?? []) if (!canFinish.has(prev)) (canFinish.add(prev), queue.push(prev));
    }
    const trapped = new Set<string>();
    for (const [key, s] of m.vertices) {
      if (canFinish.has(key)) continue;
      for (const leaf of activeLeaves(s)) if (!leaf.final) trapped.add(leaf.stateId);
    }
    for (const id of trapped) problems.push(`${def.id}: state "${id}" can never reach a final state (dead end or trap cycle) [${m.variant.name}]`);
  }
  return [...new Set(problems)];
}

export function validateAll(defs: ProcedureDefinition[]): void {
  const problems = defs.flatMap((d) => validateProcedure(d));
  if (problems.length) throw new Error(`procedure definitions failed model checking:\n- ${problems.join('\n- ')}`);
}

// ---- path generation for model-based tests ------------------------------------------------

export interface ModelPath {
  variant: ModelVariant;
  steps: Array<{ event: CaseEvent; state: AnyMachineSnapshot }>;
  covers: string;
}

const leafIds = (s: AnyMachineSnapshot) => activeLeaves(s).map((l) => l.stateId);

/**
 * Paths that together visit every state node and take every transition: the shortest path to
 * the first vertex where each state is active, and for each distinct transition (event plus
 * the leaf states it exits and enters) the shortest path through it. Paths that are prefixes
 * of longer ones are dropped: the longer path checks every step the shorter would.
 */
export function generatePaths(def: ProcedureDefinition, models: VariantModel[] = exploreProcedure(def)): ModelPath[] {
  const paths: ModelPath[] = [];
  const coveredStates = new Set<string>();
  const coveredTransitions = new Set<string>();
  for (const m of models) {
    // BFS shortest-path tree.
    const out = new Map<string, ModelEdge[]>();
    for (const e of m.edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
    const parent = new Map<string, ModelEdge | null>([[m.initial, null]]);
    const order = [m.initial];
    for (let i = 0; i < order.length; i++) {
      for (const e of out.get(order[i]) ?? []) {
        if (!parent.has(e.to)) (parent.set(e.to, e), order.push(e.to));
      }
    }
    const pathTo = (key: string): ModelEdge[] => {
      const edges: ModelEdge[] = [];
      for (let e = parent.get(key); e; e = parent.get(e.from)) edges.unshift(e);
      return edges;
    };
    const toPath = (edges: ModelEdge[], covers: string): ModelPath => ({
      variant: m.variant,
      steps: edges.map((e) => ({ event: e.event, state: m.vertices.get(e.to)! })),
      covers,
    });
    for (const key of order) {
      for (const id of leafIds(m.vertices.get(key)!)) {
        if (coveredStates.has(id)) continue;
        coveredStates.add(id);
        paths.push(toPath(pathTo(key), `state ${id}`));
      }
    }
    for (const key of order) {
      // A transition is its event, the state node that handles it and the leaves it enters —
      // the same whatever sibling parallel branches are doing.
      const beforeSnap = m.vertices.get(key)!;
      const allBefore = new Set(leafIds(beforeSnap));
      const candidates = getNextTransitions(beforeSnap);
      for (const e of out.get(key) ?? []) {
        const sources = [...new Set(candidates.filter((t: any) => t.eventType === e.event.type).map((t: any) => t.source.id as string))];
        const entered = leafIds(m.vertices.get(e.to)!).filter((x) => !allBefore.has(x));
        const id = `${e.event.type}: ${sources.join('|')} → ${entered.join('+') || '(stays)'}`;
        if (coveredTransitions.has(id)) continue;
        coveredTransitions.add(id);
        paths.push(toPath([...pathTo(key), e], `transition ${id}`));
      }
    }
  }
  const signature = (p: ModelPath) => `${p.variant.name}::${p.steps.map((s) => JSON.stringify(s.event)).join('>')}`;
  const sigs = paths.map(signature);
  return paths.filter((p, i) => {
    const sig = sigs[i];
    if (sigs.indexOf(sig) !== i) return false;
    return !sigs.some((other, j) => j !== i && other.length > sig.length && other.startsWith(`${sig}>`));
  });
}
