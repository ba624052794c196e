import type { ProcedureDefinition } from '../../workflows/index.ts';
import { DomainError } from './errors.ts';

/** Looks up procedure definitions by id and version; new cases start on the latest version. */
export class ProcedureRegistry {
  private readonly byKey = new Map<string, ProcedureDefinition<any>>();
  private readonly latestById = new Map<string, ProcedureDefinition<any>>();

  constructor(definitions: ProcedureDefinition<any>[]) {
    for (const d of definitions) {
      this.byKey.set(`${d.id}@${d.version}`, d);
      const cur = this.latestById.get(d.id);
      if (!cur || cur.version < d.version) this.latestById.set(d.id, d);
    }
  }

  latest(id: string): ProcedureDefinition<any> {
    const d = this.latestById.get(id);
    if (!d) throw new DomainError('not_found', 'PROCEDURE_NOT_FOUND', `未找到事项：${id}`);
    return d;
  }

  /** The exact version a case was started on. Missing means a deployment dropped a version still in use. */
  pinned(id: string, version: number): ProcedureDefinition<any> {
    const d = this.byKey.get(`${id}@${version}`);
    if (!d) throw new Error(`definition ${id}@${version} is not loaded but cases use it`);
    return d;
  }

  list(): ProcedureDefinition<any>[] {
    return [...this.latestById.values()];
  }
}
