import type { Db } from './connection.ts';

export type TaskStatus = 'open' | 'claimed' | 'completed' | 'cancelled';
export type EscalationLevel = 'none' | 'warned' | 'overdue' | 'red';
export const LIVE_STATUSES: TaskStatus[] = ['open', 'claimed'];

export interface TaskRow {
  id: string;
  case_id: string;
  procedure_id: string;
  region_code: string;
  state_id: string;
  title: string;
  department: string;
  role: string;
  actions: string[];
  time_limit: unknown;
  status: TaskStatus;
  assignee_id: string | null;
  opened_at: Date;
  closed_at: Date | null;
  closed_by: string | null;
  outcome: string | null;
  due_at: Date | null;
  warn_at: Date | null;
  red_at: Date | null;
  escalation: EscalationLevel;
  escalated_at: Date | null;
  deadline_note: string | null;
}

export async function insertTasks(db: Db, rows: TaskRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db('tasks').insert(rows.map((r) => ({ ...r, time_limit: JSON.stringify(r.time_limit) })));
}

export async function liveTasksOfCase(db: Db, caseId: string): Promise<TaskRow[]> {
  return db<TaskRow>('tasks').where({ case_id: caseId }).whereIn('status', LIVE_STATUSES).orderBy('opened_at');
}

export async function tasksOfCase(db: Db, caseId: string): Promise<TaskRow[]> {
  return db<TaskRow>('tasks').where({ case_id: caseId }).orderBy([{ column: 'opened_at' }, { column: 'id' }]);
}

export async function getTask(db: Db, id: string): Promise<TaskRow | undefined> {
  return db<TaskRow>('tasks').where({ id }).first();
}

export async function closeTask(
  db: Db,
  id: string,
  close: { status: 'completed' | 'cancelled'; closedAt: Date; closedBy: string | null; outcome: string | null },
): Promise<void> {
  await db('tasks').where({ id }).update({
    status: close.status,
    closed_at: close.closedAt,
    closed_by: close.closedBy,
    outcome: close.outcome,
  });
}

export async function escalateTask(db: Db, id: string, level: EscalationLevel, at: Date): Promise<void> {
  await db('tasks').where({ id }).update({ escalation: level, escalated_at: at });
}

export async function claimTask(db: Db, id: string, userId: string): Promise<void> {
  await db('tasks').where({ id }).update({ status: 'claimed', assignee_id: userId });
}

export interface InboxQuery {
  department: string;
  regionPrefix: string;
  statuses: TaskStatus[];
  procedureId?: string;
  limit: number;
  offset: number;
}

export interface InboxRow extends TaskRow {
  reference: string;
  applicant_name: string;
  case_version: number;
}

export async function listInbox(db: Db, q: InboxQuery): Promise<{ rows: InboxRow[]; total: number }> {
  const base = db('tasks')
    .join('cases', 'cases.id', 'tasks.case_id')
    .where('tasks.department', q.department)
    .whereIn('tasks.status', q.statuses)
    .andWhere('tasks.region_code', 'like', `${q.regionPrefix}%`);
  if (q.procedureId) base.andWhere('tasks.procedure_id', q.procedureId);
  const [{ count }] = await base.clone().count<{ count: string | number }[]>({ count: '*' });
  const rows = await base
    .select('tasks.*', 'cases.reference', 'cases.applicant_name', 'cases.version as case_version')
    .orderBy([{ column: 'tasks.opened_at' }, { column: 'tasks.id' }])
    .limit(q.limit)
    .offset(q.offset);
  return { rows, total: Number(count) };
}

/** Live tasks that have been warned or are overdue in a region and below, oldest deadline first. */
export async function listEscalated(db: Db, regionPrefix: string, limit: number): Promise<InboxRow[]> {
  return db('tasks')
    .join('cases', 'cases.id', 'tasks.case_id')
    .whereIn('tasks.status', LIVE_STATUSES)
    .andWhereNot('tasks.escalation', 'none')
    .andWhere('tasks.region_code', 'like', `${regionPrefix}%`)
    .select('tasks.*', 'cases.reference', 'cases.applicant_name', 'cases.version as case_version')
    .orderBy([{ column: 'tasks.due_at' }, { column: 'tasks.id' }])
    .limit(limit);
}
