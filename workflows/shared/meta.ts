import type { StateMeta, TaskMeta, TimeLimit } from './types.ts';

// Small constructors keep charts readable and make every task carry the same fields.
export const wd = (days: number, source: string): TimeLimit => ({ days, unit: 'WD', source });
export const cd = (days: number, source: string): TimeLimit => ({ days, unit: 'CD', source });

export function stage(text: string, extra: Partial<StateMeta> = {}): StateMeta {
  return { stage: text, ...extra };
}

export function taskState(text: string, task: TaskMeta, extra: Partial<StateMeta> = {}): StateMeta {
  return { stage: text, task, ...extra };
}
