import type { Db } from '../../db/connection.ts';
import * as cases from '../../db/cases.ts';
import * as tasks from '../../db/tasks.ts';
import * as users from '../../db/users.ts';
import { appendCaseNote, type AssignmentEvent } from '../caseNotes.ts';
import { coversRegion, mayWork, type Actor } from '../authorization.ts';
import { DomainError } from '../errors.ts';
import type { Engine } from '../engine.ts';
import { taskViewFor } from '../views.ts';

/**
 * 委派 and 改派: who works a live task. A holder hands their claimed task to a colleague of the
 * same department (delegate); a supervisor whose region covers the task gives any live task to
 * someone who may work it (reassign). Both lock the case row first, like every command, and
 * write one hash-chained case event (the case version moves, the chart state does not), so a
 * delegation racing a completion serialises: exactly one of them succeeds.
 */

export interface AssignmentCommand {
  /** User id of the colleague who takes the task. */
  assignee: string;
  reason: string;
}

const invalidAssignee = (message: string) => new DomainError('invalid', 'INVALID_ASSIGNEE', message, [{ path: 'assignee', message }]);

/** An active user who may work the task: its department, its role, a region covering the case. */
function mayTake(user: users.UserRow, task: tasks.TaskRow): boolean {
  return !user.disabled_at && user.department === task.department && user.roles.includes(task.role) && task.region_code.startsWith(user.region_code);
}

const isSupervisorOver = (actor: Actor, task: tasks.TaskRow) => actor.roles.includes('supervisor') && coversRegion(actor, task.region_code);

/** The colleagues the caller may give the task to (never its current assignee), by name. */
export async function assignableUsers(engine: Engine, db: Db, actor: Actor, taskId: string, page: { page: number; pageSize: number }) {
  const task = await engine.visibleTask(db, actor, taskId);
  if (!mayWork(actor, task) && !isSupervisorOver(actor, task)) {
    throw new DomainError('forbidden', 'NOT_YOUR_DEPARTMENT', '只有本部门人员或督办人员可以为该任务选择经办人');
  }
  const { rows, total } = await users.listAssignable(db, {
    department: task.department,
    role: task.role,
    regionCode: task.region_code,
    excludeId: task.assignee_id,
    limit: page.pageSize,
    offset: (page.page - 1) * page.pageSize,
  });
  return { items: rows.map((u) => ({ id: u.id, displayName: u.display_name })), total, page: page.page, pageSize: page.pageSize };
}

/** 委派: the holder of a claimed task hands it to a colleague of the same department. */
export async function delegateTask(engine: Engine, trx: Db, actor: Actor, taskId: string, command: AssignmentCommand) {
  return assign(engine, trx, actor, taskId, command, 'TASK_DELEGATED', (task) => {
    if (!mayWork(actor, task)) throw new DomainError('forbidden', 'NOT_YOUR_DEPARTMENT', '该任务不属于您所在部门或岗位，不能委派');
    if (task.status === 'open') throw new DomainError('conflict', 'CLAIM_REQUIRED', '请先认领该任务，再委派给同事');
    if (task.assignee_id !== actor.id) throw new DomainError('conflict', 'TASK_CLAIMED_BY_OTHER', '该任务已由他人认领，只有认领人可以委派');
  });
}

/** 改派: a supervisor whose region covers the task gives it to anyone who may work it. */
export async function reassignTask(engine: Engine, trx: Db, actor: Actor, taskId: string, command: AssignmentCommand) {
  return assign(engine, trx, actor, taskId, command, 'TASK_REASSIGNED', (task) => {
    if (!isSupervisorOver(actor, task)) throw new DomainError('forbidden', 'ROLE_REQUIRED', '只有辖区督办人员可以改派任务');
  });
}

async function assign(
  engine: Engine,
  trx: Db,
  actor: Actor,
  taskId: string,
  command: AssignmentCommand,
  type: AssignmentEvent,
  authorise: (task: tasks.TaskRow) => void,
) {
  const seen = await engine.visibleTask(trx, actor, taskId);
  const row = (await cases.lockCase(trx, seen.case_id))!;
  // Read again under the case lock: a completion or a claim may have won the race.
  const task = (await tasks.getTask(trx, taskId))!;
  if (!tasks.LIVE_STATUSES.includes(task.status)) throw new DomainError('conflict', 'TASK_NOT_OPEN', '该任务已办结，不能委派或改派');
  authorise(task);
  const assignee = await users.getUser(trx, command.assignee);
  if (!assignee || !mayTake(assignee, task)) throw invalidAssignee('经办人须为本部门、具备该岗位、辖区覆盖本办件的在岗人员');
  if (assignee.id === task.assignee_id) throw invalidAssignee('该任务已由此人办理，请选择其他经办人');

  const previous = task.assignee_id ? await users.getUser(trx, task.assignee_id) : undefined;
  const now = engine.clock();
  const payload = {
    taskId: task.id,
    task: task.title,
    department: task.department,
    from: previous ? { id: previous.id, name: previous.display_name } : null,
    to: { id: assignee.id, name: assignee.display_name },
    reason: command.reason,
  };
  await appendCaseNote(trx, row, type, payload, actor, now);
  await tasks.assignTask(trx, task.id, assignee.id);
  const def = engine.registry.pinned(row.procedure_id, row.definition_version);
  return { task: taskViewFor(actor, def, { ...task, status: 'claimed', assignee_id: assignee.id }), caseVersion: row.version };
}
