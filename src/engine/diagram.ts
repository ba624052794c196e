import type { ProcedureDefinition, StateMeta } from '../../workflows/index.ts';

/**
 * Mermaid `stateDiagram-v2` of a chart, labelled in Chinese: states by their citizen-facing
 * stage, transitions by their event labels. Compound states are blocks; parallel regions are
 * separated by `--`.
 */
export function toMermaid(def: ProcedureDefinition): string {
  const lines = ['stateDiagram-v2'];
  const edges: string[] = [];
  const mid = (node: any) => node.id.replace(/[^A-Za-z0-9]/g, '_');
  const label = (node: any) => ((node.meta ?? {}) as Partial<StateMeta>).stage || node.key;
  const quote = (s: string) => s.replace(/"/g, "'");

  const visit = (node: any, indent: string) => {
    const children = Object.values(node.states) as any[];
    if (children.length === 0) {
      lines.push(`${indent}state "${quote(label(node))}" as ${mid(node)}`);
    } else {
      lines.push(`${indent}state "${quote(label(node))}" as ${mid(node)} {`);
      if (node.type === 'parallel') {
        children.forEach((region, i) => {
          if (i > 0) lines.push(`${indent}  --`);
          visit(region, `${indent}  `);
        });
      } else {
        const initial = node.initial?.target?.[0];
        if (initial) lines.push(`${indent}  [*] --> ${mid(initial)}`);
        for (const c of children) visit(c, `${indent}  `);
      }
      lines.push(`${indent}}`);
    }
    // A final state ends its own block (or the whole chart at the top level).
    if (node.type === 'final') lines.push(`${indent}${mid(node)} --> [*]`);
    for (const [type, transitions] of node.transitions as Map<string, any[]>) {
      const text = type.startsWith('xstate.done.state.') ? '全部办结' : (def.events[type]?.label ?? type);
      for (const t of transitions) {
        const targets: any[] = t.target ?? [node];
        for (const target of targets) edges.push(`${mid(node)} --> ${mid(target)} : ${quote(text)}${t.guard ? '（条件）' : ''}`);
      }
    }
    for (const t of node.always ?? []) {
      for (const target of t.target ?? []) edges.push(`${mid(node)} --> ${mid(target)} : 自动分派${t.guard ? '（条件）' : ''}`);
    }
  };

  const root = def.machine.root as any;
  lines.push(`  [*] --> ${mid(root.initial.target[0])}`);
  for (const child of Object.values(root.states) as any[]) visit(child, '  ');
  for (const e of [...new Set(edges)]) lines.push(`  ${e}`);
  return lines.join('\n');
}
