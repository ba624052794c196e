import type { Knex } from 'knex';
import { definitionMappings, leafPaths, stateValueOf, type DefinitionMapping, type ProcedureDefinition } from '../../../workflows/index.ts';
import type { Db } from '../../db/connection.ts';
import * as cases from '../../db/cases.ts';
import * as caseEvents from '../../db/caseEvents.ts';
import * as tasks from '../../db/tasks.ts';
import * as timers from '../../db/timers.ts';
import { runTransaction } from '../../db/transaction.ts';
import { canonicalJson } from '../audit.ts';
import { activeLeaves, resolve, step, type PersistedSnapshot } from '../chart.ts';
import { DomainError } from '../errors.ts';
import { caseStatus, chained, type Actor, type Engine } from '../engine.ts';
import { isServiceTask } from '../views.ts';
import { MIGRATION_EVENT } from '../caseNotes.ts';

/**
 * Definition migration (docs/versioning.md): moves running cases of one procedure version to the
 * next by the mapping declared next to the new chart. `mapCase` is the generic, pure mapper; the
 * plan (dry run) and the run share it, so the table a dry run prints is what a run does — except
 * for cases that move between the two, which the run maps again under their lock.
 */

/** The actor of a migration started from the command line. */
export const MIGRATION_ACTOR: Actor = { id: null, name: '系统（流程版本迁移）', regionCode: '', department: 'system', roles: [], system: true };

export type MappedCase =
  | { ok: true; snapshot: PersistedSnapshot; fromLeaves: string[]; toLeaves: string[] }
  | { ok: false; fromLeaves: string[]; reason: string };

/** What staff read for a state: every active leaf's stage (zh-CN), routing states included. */
export function stagesOf(def: ProcedureDefinition, snapshot: PersistedSnapshot): string {
  try {
    return [...new Set(activeLeaves(resolve(def, snapshot)).map((l) => l.meta.stage))].join(' + ');
  } catch {
    return '（状态不属于该版本）';
  }
}

/** The state node at a path from the root, or undefined. */
function nodeAt(def: ProcedureDefinition, path: string): any {
  let node: any = def.machine.root;
  for (const key of path.split('.')) {
    node = node?.states?.[key];
    if (!node) return undefined;
  }
  return node;
}

const isLeaf = (node: any) => node && (node.type === 'atomic' || node.type === 'final');
const label = (leaves: string[]) => leaves.join(' + ');

/**
 * Maps one persisted snapshot of `from` onto `to`. Refuses (never throws) when the mapping lists
 * a source state as unsafe, when a source state has no declared target, when the context upgrade
 * refuses, or when the result is not a resting state of the target chart — a restored snapshot
 * does not run eventless transitions, so a state that would move on by itself must not be written.
 */
export function mapCase(mapping: DefinitionMapping, from: ProcedureDefinition, to: ProcedureDefinition, persisted: PersistedSnapshot): MappedCase {
  const fromLeaves = leafPaths(persisted.value);
  const refuse = (reason: string): MappedCase => ({ ok: false, fromLeaves, reason });
  if (persisted.status !== 'active') return refuse('办件已办结，无需迁移');
  try {
    resolve(from, persisted);
  } catch {
    return refuse(`办件快照与版本${from.version}的流程不符，请人工核查`);
  }
  for (const leaf of fromLeaves) if (Object.hasOwn(mapping.refused, leaf)) return refuse(mapping.refused[leaf]);

  const mapped: string[] = [];
  for (const leaf of fromLeaves) {
    const target = mapping.renamed[leaf] ?? mapping.removed[leaf]?.target ?? leaf;
    if (!isLeaf(nodeAt(to, target))) return refuse(`版本${to.version}没有状态“${leaf}”，迁移规则也未声明其去向`);
    mapped.push(target);
  }
  for (const [region, idle] of Object.entries(mapping.addedRegions)) {
    if (mapped.some((l) => l.startsWith(`${region}.`))) continue;
    // Only where the region's parent is active: a region of a state the case is not in stays out.
    const parent = region.split('.').slice(0, -1).join('.');
    if (parent && !mapped.some((l) => l.startsWith(`${parent}.`))) continue;
    const leaf = `${region}.${idle(mapped)}`;
    if (!isLeaf(nodeAt(to, leaf))) return refuse(`迁移规则为新增区域“${region}”给出的状态不存在`);
    mapped.push(leaf);
  }

  const upgraded = mapping.context(persisted.context, fromLeaves);
  if ('refuse' in upgraded) return refuse(upgraded.refuse);

  const candidate: PersistedSnapshot = { ...persisted, value: stateValueOf(mapped), context: upgraded.context };
  try {
    // It must restore, name exactly these leaves (no region filled in by default), and stay put
    // when an event it does not know arrives (no pending eventless transition).
    const restored = resolve(to, candidate);
    const restoredLeaves = leafPaths(restored.value).sort();
    if (canonicalJson(restoredLeaves) !== canonicalJson([...mapped].sort())) return refuse(`迁移后的状态与版本${to.version}的流程不符`);
    const settled = step(to, candidate, { type: MIGRATION_EVENT, data: {} });
    if (canonicalJson(settled.snapshot.value) !== canonicalJson(candidate.value) || canonicalJson(settled.snapshot.context) !== canonicalJson(candidate.context) || settled.emitted.length) {
      return refuse(`迁移后的状态在版本${to.version}中不是稳定状态`);
    }
    return { ok: true, snapshot: settled.snapshot, fromLeaves, toLeaves: leafPaths(settled.snapshot.value) };
  } catch {
    return refuse(`迁移后的状态不能在版本${to.version}中恢复`);
  }
}

export interface MigrationRequest {
  procedureId: string;
  from: number;
  to: number;
  dryRun: boolean;
  /** Only cases of this region and below ('' = every region). */
  regionPrefix?: string;
  batchSize?: number;
}

export interface MigrationRow {
  fromState: string;
  /** The same state as staff read it (zh-CN stages). */
  fromStage: string;
  toState: string | null;
  toStage: string | null;
  cases: number;
  /** Why these cases are refused; null for mappable ones. */
  refusedReason: string | null;
}

export interface MigrationReport {
  mappingId: string;
  procedureId: string;
  from: number;
  to: number;
  dryRun: boolean;
  /** Per source state (its active leaves, "a + b"): how many cases, and where they go or why not. */
  rows: MigrationRow[];
  refused: Array<{ caseId: string; reference: string; fromState: string; reason: string }>;
  /** Cases another command held while the run reached them: not migrated; run again. */
  busy: Array<{ caseId: string; reference: string; code: string }>;
  totals: { cases: number; mappable: number; refused: number; migrated: number; busy: number };
}

/** The declared mappings, for a caller choosing one. */
export function listMappings(engine: Engine) {
  return definitionMappings.map((m) => ({ mappingId: m.id, procedureId: m.procedureId, procedureName: engine.registry.latest(m.procedureId).name, from: m.from, to: m.to, summary: m.summary }));
}

export function findMapping(procedureId: string, from: number, to: number): DefinitionMapping {
  const mapping = definitionMappings.find((m) => m.procedureId === procedureId && m.from === from && m.to === to);
  if (!mapping) {
    const known = definitionMappings.filter((m) => m.procedureId === procedureId).map((m) => `${m.from}→${m.to}`);
    throw new DomainError('invalid', 'UNKNOWN_DEFINITION_MIGRATION', known.length ? `事项 ${procedureId} 没有从版本${from}到版本${to}的迁移规则（已有：${known.join('、')}）` : `事项 ${procedureId} 没有声明任何版本迁移规则`, [
      { path: 'procedure', message: '没有对应的迁移规则' },
    ]);
  }
  return mapping;
}

/**
 * Plans (dryRun: reads only) or runs a migration. A run takes the running cases of the source
 * version in id order, `batchSize` at a time, and migrates each in its own transaction under the
 * case lock; migrated cases leave the source version, so running it again migrates nothing twice.
 */
export async function migrateDefinition(engine: Engine, db: Knex, actor: Actor, req: MigrationRequest): Promise<MigrationReport> {
  const mapping = findMapping(req.procedureId, req.from, req.to);
  const from = engine.registry.pinned(req.procedureId, req.from);
  const to = engine.registry.pinned(req.procedureId, req.to);
  const report: MigrationReport = {
    mappingId: mapping.id,
    procedureId: req.procedureId,
    from: req.from,
    to: req.to,
    dryRun: req.dryRun,
    rows: [],
    refused: [],
    busy: [],
    totals: { cases: 0, mappable: 0, refused: 0, migrated: 0, busy: 0 },
  };
  const rows = new Map<string, MigrationRow>();
  const count = (fromLeaves: string[], toLeaves: string[] | null, reason: string | null, stages: () => [string, string | null]) => {
    const key = `${label(fromLeaves)}\n${toLeaves ? label(toLeaves) : ''}\n${reason ?? ''}`;
    const row = rows.get(key) ?? { fromState: label(fromLeaves), fromStage: stages()[0], toState: toLeaves ? label(toLeaves) : null, toStage: stages()[1], cases: 0, refusedReason: reason };
    row.cases++;
    rows.set(key, row);
  };
  const refused = (row: cases.CaseRow, fromLeaves: string[], reason: string) => {
    count(fromLeaves, null, reason, () => [stagesOf(from, row.snapshot), null]);
    report.refused.push({ caseId: row.id, reference: row.reference, fromState: label(fromLeaves), reason });
    report.totals.refused++;
  };

  let after: string | null = null;
  for (;;) {
    const batch = await cases.runningCasesOfVersion(db, req.procedureId, req.from, req.regionPrefix ?? '', after, req.batchSize ?? 100);
    if (batch.length === 0) break;
    after = batch.at(-1)!.id;
    for (const row of batch) {
      report.totals.cases++;
      if (req.dryRun) {
        const m = mapCase(mapping, from, to, row.snapshot);
        if (!m.ok) refused(row, m.fromLeaves, m.reason);
        else (count(m.fromLeaves, m.toLeaves, null, () => [stagesOf(from, row.snapshot), stagesOf(to, m.snapshot)]), report.totals.mappable++);
        continue;
      }
      try {
        const outcome = await runTransaction(db, (trx) => migrateCase(engine, trx, mapping, from, to, row.id, actor));
        if (outcome.status === 'gone') report.totals.cases--;
        else if (outcome.status === 'refused') refused(row, outcome.fromLeaves, outcome.reason);
        else (count(outcome.fromLeaves, outcome.toLeaves, null, () => [outcome.fromStage, outcome.toStage]), report.totals.mappable++, report.totals.migrated++);
      } catch (err) {
        // Someone else holds or just changed the case: it stays as it is, and the next run takes it.
        if (err instanceof DomainError && (err.code === 'CASE_BUSY' || err.code === 'VERSION_CONFLICT')) {
          report.busy.push({ caseId: row.id, reference: row.reference, code: err.code });
          report.totals.busy++;
        } else throw err;
      }
    }
  }
  report.rows = [...rows.values()].sort((a, b) => a.fromState.localeCompare(b.fromState) || Number(a.refusedReason !== null) - Number(b.refusedReason !== null));
  return report;
}

/**
 * Migrates one case inside the caller's transaction, under the case lock every writer takes
 * first. The case is mapped again from the locked row (a command may have moved it since the
 * batch was read); one no longer running on the source version is left alone ('gone').
 * Tasks and timers are re-derived by the engine's own reconciliation, as if the case had
 * transitioned from its source state to its target state.
 */
export async function migrateCase(
  engine: Engine,
  trx: Db,
  mapping: DefinitionMapping,
  from: ProcedureDefinition,
  to: ProcedureDefinition,
  caseId: string,
  actor: Actor,
): Promise<{ status: 'gone' } | { status: 'refused'; fromLeaves: string[]; reason: string } | { status: 'migrated'; fromLeaves: string[]; toLeaves: string[]; fromStage: string; toStage: string; version: number }> {
  const row = await cases.lockCase(trx, caseId);
  if (!row || row.procedure_id !== mapping.procedureId || row.definition_version !== from.version || row.status !== 'running') return { status: 'gone' };
  const m = mapCase(mapping, from, to, row.snapshot);
  if (!m.ok) return { status: 'refused', fromLeaves: m.fromLeaves, reason: m.reason };

  const now = engine.clock();
  const previous = activeLeaves(resolve(from, row.snapshot));
  const leaves = activeLeaves(resolve(to, m.snapshot));
  const version = row.version + 1;
  const logged = chained(
    {
      case_id: caseId,
      seq: version,
      type: MIGRATION_EVENT,
      payload: { mappingId: mapping.id, fromVersion: from.version, toVersion: to.version, fromStates: m.fromLeaves, toStates: m.toLeaves },
      actor_id: actor.id,
      actor_name: actor.name,
      from_state: row.snapshot.value,
      to_state: m.snapshot.value,
      occurred_at: now,
    },
    row.chain_head,
  );
  const clock = await engine.caseClock(trx, to, row, leaves, now);
  const saved = await cases.saveMigration(trx, caseId, row.version, {
    definitionVersion: to.version,
    status: caseStatus(m.snapshot),
    stateValue: m.snapshot.value,
    snapshot: m.snapshot,
    updatedAt: now,
    chainHead: logged.hash,
    ...clock,
  });
  if (!saved) throw new DomainError('conflict', 'VERSION_CONFLICT', '办件已被他人更新，请刷新后重试');
  await caseEvents.appendEvent(trx, logged);

  // A task whose step survives keeps its id, claim, due date and timers; it takes the new
  // version's title, actions and limit. If the new version gives the step to another
  // department or role, the old holder's task is cancelled and reconciliation opens the new one.
  const byState = new Map(leaves.filter((l) => l.meta.task && !l.final).map((l) => [l.stateId, l.meta.task!]));
  const live = await tasks.liveTasksOfCase(trx, caseId);
  const kept: tasks.TaskRow[] = [];
  const handedOver: string[] = [];
  for (const t of live) {
    const meta = byState.get(t.state_id);
    if (isServiceTask(t) || !meta) {
      kept.push(t);
    } else if (meta.department !== t.department || meta.role !== t.role) {
      await tasks.closeTask(trx, t.id, { status: 'cancelled', closedAt: now, closedBy: actor.id, outcome: MIGRATION_EVENT });
      handedOver.push(t.id);
    } else {
      if (meta.title !== t.title || canonicalJson(meta.actions) !== canonicalJson(t.actions) || canonicalJson(meta.timeLimit) !== canonicalJson(t.time_limit)) {
        await tasks.redescribeTask(trx, t.id, { title: meta.title, actions: meta.actions, time_limit: meta.timeLimit });
        Object.assign(t, { title: meta.title, actions: meta.actions, time_limit: meta.timeLimit });
      }
      kept.push(t);
    }
  }
  await timers.cancelTaskTimers(trx, handedOver);
  await engine.syncTasks(trx, to, row, previous, leaves, kept, null, actor, now, MIGRATION_EVENT);
  return { status: 'migrated', fromLeaves: m.fromLeaves, toLeaves: m.toLeaves, fromStage: stagesOf(from, row.snapshot), toStage: stagesOf(to, m.snapshot), version };
}

/** The report as a plain-text table (the CLI prints it). */
export function formatReport(r: MigrationReport): string {
  const lines: string[] = [];
  lines.push(`${r.dryRun ? 'DRY RUN (nothing written)' : 'RUN'}: ${r.procedureId} version ${r.from} → ${r.to}, mapping ${r.mappingId}`);
  lines.push('');
  const header = ['cases', 'from state', 'to state / refused'];
  const body = r.rows.map((row) => [String(row.cases), `${row.fromState} (${row.fromStage})`, row.toState ? `${row.toState} (${row.toStage})` : `REFUSED: ${row.refusedReason}`]);
  const width = [0, 1].map((i) => Math.max(header[i].length, ...body.map((b) => b[i].length)));
  const fmt = (cols: string[]) => `${cols[0].padStart(width[0])}  ${cols[1].padEnd(width[1])}  ${cols[2]}`;
  lines.push(fmt(header), fmt(['-'.repeat(width[0]), '-'.repeat(width[1]), '-'.repeat(18)]), ...body.map(fmt));
  if (r.refused.length) {
    lines.push('', 'Refused cases (untouched, they stay on their version):');
    for (const c of r.refused) lines.push(`  ${c.reference} (${c.caseId}): ${c.reason}`);
  }
  if (r.busy.length) {
    lines.push('', 'Busy cases (held by another command; run again):');
    for (const c of r.busy) lines.push(`  ${c.reference} (${c.caseId}): ${c.code}`);
  }
  const t = r.totals;
  lines.push('', `Totals: ${t.cases} running cases, ${t.mappable} mappable, ${t.refused} refused, ${t.migrated} migrated, ${t.busy} busy`);
  return lines.join('\n');
}
