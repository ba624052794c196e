/**
 * How the running cases of one definition version move to the next (docs/versioning.md). Pure
 * data plus pure functions, declared next to the new chart; the engine's generic mapper
 * (src/engine/commands/migrateDefinition.ts) applies it and checks the result against the target
 * chart. States are named by their path from the chart's root ("handling.assistance.paying"):
 * ids can be shared between versions, paths say where a state sits.
 */
export interface DefinitionMapping<FromContext = any, ToContext = any> {
  /** Stable id, recorded in every DEFINITION_MIGRATED event. */
  id: string;
  procedureId: string;
  from: number;
  to: number;
  /** What changed and why (English, for operators; docs/versioning.md has the long form). */
  summary: string;
  /** Source leaf → target leaf for states that kept their meaning under a new name. */
  renamed: Record<string, string>;
  /** Source leaves that have no counterpart any more, with the leaf a case there continues in. */
  removed: Record<string, { target: string; why: string }>;
  /**
   * Parallel regions the target has and the source had not: the leaf (a child of the region) a
   * case starts in there, decided from the case's mapped target leaves.
   */
  addedRegions: Record<string, (targetLeaves: string[]) => string>;
  /**
   * Source leaves where mapping is unsafe: a case with any of them active is refused with this
   * reason (zh-CN, shown to the operator) and stays on its version, untouched.
   */
  refused: Record<string, string>;
  /** The context upgrade. `sourceLeaves` are the case's active source leaves. May refuse (zh-CN reason). */
  context(context: FromContext, sourceLeaves: string[]): { context: ToContext } | { refuse: string };
}

/** Leaf state paths of a state value, in the value's key order. */
export function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/** The state value whose leaves are `paths` (the inverse of leafPaths). */
export function stateValueOf(paths: string[]): unknown {
  if (paths.length === 1 && !paths[0].includes('.')) return paths[0];
  const root: Record<string, any> = {};
  for (const p of paths) {
    const parts = p.split('.');
    let node = root;
    for (const part of parts.slice(0, -2)) node = node[part] ??= {};
    node[parts.at(-2)!] = parts.at(-1)!;
  }
  return root;
}
