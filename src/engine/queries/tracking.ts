import { departmentName } from '../../../workflows/index.ts';
import type { Db } from '../../db/connection.ts';
import * as cases from '../../db/cases.ts';
import * as caseEvents from '../../db/caseEvents.ts';
import * as tasks from '../../db/tasks.ts';
import { activeLeaves, resolve, stageText } from '../chart.ts';
import { DomainError } from '../errors.ts';
import { maskName } from '../masking.ts';
import { trackingCodeMatches } from '../references.ts';
import { caseDeadline, citizenDecision, eventLabel, remainingFn } from '../views.ts';
import type { ReadContext } from './context.ts';
import { ASSIGNMENT_EVENTS } from '../caseNotes.ts';
import { isDecided } from '../decided.ts';

/**
 * The citizen's view. An unknown reference and a wrong code give the same answer, so the
 * reference alone reveals nothing — not even that the case exists.
 */
export async function track(ctx: ReadContext, db: Db, reference: string, code: string) {
  const row = reference.length <= 64 && code.length <= 64 ? await cases.getCaseByReference(db, reference) : undefined;
  // The hash comparison runs for unknown references too, so both answers take as long.
  const matches = trackingCodeMatches(reference, code, row?.tracking_code_hash ?? '0'.repeat(64));
  if (!row || !matches) {
    throw new DomainError('not_found', 'TRACKING_NOT_FOUND', '未查询到办件，请核对受理编号和查询码');
  }
  const def = ctx.registry.pinned(row.procedure_id, row.definition_version);
  const snap = resolve(def, row.snapshot);
  const leaves = activeLeaves(snap);
  const live = await tasks.liveTasksOfCase(db, row.id);
  const events = await caseEvents.listEvents(db, row.id);
  const c = snap.context as Record<string, any>;
  const deadline = caseDeadline(row, remainingFn(await ctx.calendars.forRegion(db, row.region_code), ctx.clock()));
  const ratingOf = (stage: string) => (events.find((e) => e.type === 'CASE_RATED' && e.payload.stage === stage)?.payload.level as string | undefined) ?? null;
  const rating = { acceptance: ratingOf('acceptance'), decision: ratingOf('decision'), decided: isDecided(leaves, row.status === 'done') };
  return {
    reference: row.reference,
    rating,
    procedureName: def.name,
    applicantName: maskName(row.applicant_name),
    status: row.status,
    stage: stageText(leaves),
    handlingDepartments: [...new Set(live.map((t) => departmentName(t.department)))],
    missingMaterials: leaves.some((l) => l.stateId.endsWith('supplement'))
      ? (c.missingMaterials as string[] | undefined)?.map((m) => def.materials.find((x) => x.code === m)?.name ?? m) ?? []
      : [],
    decision: citizenDecision(c.decision),
    deadline,
    deadlineText: deadline.text,
    submittedAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    // Who in a department works a task (委派, 改派) is the office's business, not a step of the case.
    // Nor is moving the case to a new definition version (DEFINITION_MIGRATED, docs/versioning.md).
    timeline: events.filter((e) => !Object.hasOwn(ASSIGNMENT_EVENTS, e.type) && e.type !== 'DEFINITION_MIGRATED').map((e) => ({
      at: e.occurred_at.toISOString(),
      step: eventLabel(def, e.type),
    })),
  };
}
