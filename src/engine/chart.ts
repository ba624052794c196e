import { createActor, getNextTransitions, type AnyMachineSnapshot } from 'xstate';
import type { CaseEvent, ProcedureDefinition, StateMeta } from '../../workflows/index.ts';

/**
 * Pure chart operations over persisted snapshots. We restore an actor rather than call
 * `transition()`: restoring does not re-run entry actions, collects `emit`ted effects through
 * `actor.on`, and is the route that later lets the engine capture delayed events as timers.
 */

export interface StepResult {
  snapshot: PersistedSnapshot;
  /** The same state as a live snapshot (active nodes, `can`), so callers need not restore it again. */
  resolved: AnyMachineSnapshot;
  emitted: Array<{ type: string; [k: string]: unknown }>;
}

export type PersistedSnapshot = { status: string; value: unknown; context: unknown; [k: string]: unknown };

function createChartActor(definition: ProcedureDefinition, options: { snapshot?: PersistedSnapshot; input?: unknown }) {
  return createActor(definition.machine, options as any);
}

function run(definition: ProcedureDefinition, actor: ReturnType<typeof createChartActor>, event?: CaseEvent): StepResult {
  const emitted: StepResult['emitted'] = [];
  actor.on('*', (e: any) => emitted.push(e));
  actor.start();
  if (event) actor.send(event);
  const snapshot = actor.getPersistedSnapshot() as unknown as PersistedSnapshot;
  const resolved = actor.getSnapshot() as AnyMachineSnapshot;
  actor.stop();
  if (snapshot.status === 'error') {
    throw new Error(`chart ${definition.id}@${definition.version} failed on ${event?.type ?? 'start'}: ${String((snapshot as any).error)}`);
  }
  return { snapshot, resolved, emitted };
}

export function initialSnapshot(definition: ProcedureDefinition, input: unknown): PersistedSnapshot {
  return run(definition, createChartActor(definition, { input })).snapshot;
}

export function step(definition: ProcedureDefinition, snapshot: PersistedSnapshot, event: CaseEvent): StepResult {
  return run(definition, createChartActor(definition, { snapshot }), event);
}

export function resolve(definition: ProcedureDefinition, persisted: PersistedSnapshot): AnyMachineSnapshot {
  return restore(definition, persisted).snapshot;
}

/**
 * A stored snapshot restored once for a command: read it (`snapshot`: active nodes, `can`), then
 * take at most one step from it on the same actor — a transition restores the chart once, not
 * twice (issue 11).
 */
export function restore(definition: ProcedureDefinition, persisted: PersistedSnapshot): { snapshot: AnyMachineSnapshot; step(event: CaseEvent): StepResult } {
  const actor = createChartActor(definition, { snapshot: persisted });
  const snapshot = actor.getSnapshot() as AnyMachineSnapshot;
  if (snapshot.status === 'error') throw new Error(`stored snapshot does not fit ${definition.id}@${definition.version}`);
  let stepped = false;
  return {
    snapshot,
    step(event) {
      if (stepped) throw new Error('a restored chart steps once');
      stepped = true;
      return run(definition, actor, event);
    },
  };
}

export interface ActiveLeaf {
  stateId: string;
  meta: StateMeta;
  final: boolean;
}

/** Active atomic (and final) states across all parallel regions, in document order. */
export function activeLeaves(snapshot: AnyMachineSnapshot): ActiveLeaf[] {
  const nodes: any[] = (snapshot as any)._nodes;
  // Document order, whatever order the snapshot was restored in: stage text must be stable.
  return nodes
    .filter((n) => n.type === 'atomic' || n.type === 'final')
    .sort((a, b) => a.order - b.order)
    .map((n) => ({ stateId: n.id as string, meta: (n.meta ?? { stage: '' }) as StateMeta, final: n.type === 'final' }));
}

/** Event types the current state knows (guards not evaluated). Internal `xstate.*` events never count. */
export function knownEvents(snapshot: AnyMachineSnapshot): string[] {
  if (snapshot.status !== 'active') return [];
  // Guards are not evaluated, so the answer depends on the active states alone: kept per chart
  // and state value (a command asks twice, before and after its step).
  let byValue = knownByChart.get(snapshot.machine);
  if (!byValue) knownByChart.set(snapshot.machine, (byValue = new Map()));
  const key = JSON.stringify(snapshot.value);
  const known = byValue.get(key);
  if (known) return [...known];
  const types = new Set<string>();
  for (const t of getNextTransitions(snapshot)) {
    const type = (t as any).eventType as string;
    if (type && type !== '*' && !type.startsWith('xstate.')) types.add(type);
  }
  // A chart has finitely many state values; the bound only guards against a pathological one.
  if (byValue.size < 10_000) byValue.set(key, [...types]);
  return [...types];
}

const knownByChart = new WeakMap<object, Map<string, string[]>>();

/** Citizen-facing stage: the stages of every active leaf, in order, without duplicates. */
export function stageText(leaves: ActiveLeaf[]): string {
  const stages = leaves.filter((l) => !l.meta.hiddenFromCitizen).map((l) => l.meta.stage);
  return [...new Set(stages)].join('；');
}
