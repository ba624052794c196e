import type { Db } from '../../db/connection.ts';
import * as tasks from '../../db/tasks.ts';
import { taskActions, type Actor } from '../authorization.ts';
import { inboxItem, remainingFn } from '../views.ts';
import type { ReadContext } from './context.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

/**
 * Counts stop here: below it they are exact, at it they mean "10,000 or more" (`exact: false`).
 * Counting is then bounded by the cap, not by the size of a department's queue (issue 11).
 */
export const COUNT_CAP = 10_000;

export const ESCALATION_LEVELS: tasks.EscalationLevel[] = ['none', 'warned', 'overdue', 'red'];
const STATUS_LABELS: Record<tasks.TaskStatus, string> = { open: '待认领', claimed: '已认领', completed: '已办结', cancelled: '已取消' };
const ESCALATION_LABELS: Record<tasks.EscalationLevel, string> = { none: '正常', warned: '预警（黄灯）', overdue: '超期（黄牌）', red: '红牌督办' };

export interface InboxQuery {
  status?: tasks.TaskStatus;
  procedureId?: string;
  escalation?: tasks.EscalationLevel;
  /** true: only tasks whose due date has passed; false: only those not (yet) overdue. */
  overdue?: boolean;
  sort?: tasks.TaskSort;
  /** Opaque key of the previous page's last row; when given, `page` is ignored. */
  cursor?: string;
  page: number;
  pageSize: number;
}

export interface CountView {
  value: string;
  label: string;
  count: number;
  /** false: `count` is the cap and the real number is at least that ("10,000+"). */
  exact: boolean;
}

const counted = (value: string, label: string, n: number): CountView => ({ value, label, count: Math.min(n, COUNT_CAP), exact: n < COUNT_CAP });

/**
 * The caller's department's queue in their region and below (need to know: a department sees
 * only its own tasks), filtered, sorted by due date (unknown dates last) then id, one page at a
 * time, with counts per filter value. Each facet's counts apply every other filter but its own,
 * so they say how many tasks picking that value would list.
 */
export async function inbox(ctx: ReadContext, db: Db, actor: Actor, q: InboxQuery) {
  const now = ctx.clock();
  const sort = q.sort ?? 'due';
  const after = q.cursor ? decodeCursor(q.cursor, sort) : undefined;
  // The roles too: a county bureau's reviewers and its supervisors (差评整改, 回访) share a department, not a queue.
  const base = { department: actor.department, roles: actor.roles as string[], regionPrefix: actor.regionCode };
  const statuses = q.status ? [q.status] : tasks.LIVE_STATUSES;
  const overdueFilter = (overdue: boolean | undefined): Partial<tasks.TaskFilter> =>
    overdue === true ? { dueAtOrBefore: now } : overdue === false ? { notOverdueAt: now } : {};
  const filter = (omit?: 'status' | 'escalation' | 'procedure' | 'overdue'): tasks.TaskFilter => ({
    ...base,
    statuses: omit === 'status' ? tasks.LIVE_STATUSES : statuses,
    procedureId: omit === 'procedure' ? undefined : q.procedureId,
    escalation: omit === 'escalation' ? undefined : q.escalation,
    ...(omit === 'overdue' ? {} : overdueFilter(q.overdue)),
  });

  const rows = tasks.listTasks(db, filter(), { sort, after, offset: (q.page - 1) * q.pageSize, limit: q.pageSize + 1 });

  // The department's procedures: those whose charts give it tasks.
  const procedures = ctx.registry.list().filter((d) => d.departments.includes(actor.department) || d.acceptingDepartments.includes(actor.department));
  const statusValues: tasks.TaskStatus[] = q.status && !tasks.LIVE_STATUSES.includes(q.status) ? [...tasks.LIVE_STATUSES, q.status] : tasks.LIVE_STATUSES;
  // Without a status filter the total is the open count plus the claimed one (the live statuses):
  // not counted a third time. Each part stops at the cap, so the sum reaches it exactly when the
  // total does.
  const totalFromStatuses = !q.status;
  const wanted: Record<string, tasks.TaskFilter> = totalFromStatuses ? {} : { total: filter() };
  for (const s of statusValues) wanted[`status:${s}`] = { ...filter('status'), statuses: [s] };
  for (const e of ESCALATION_LEVELS) wanted[`escalation:${e}`] = { ...filter('escalation'), escalation: e };
  for (const d of procedures) wanted[`procedure:${d.id}`] = { ...filter('procedure'), procedureId: d.id };
  wanted['overdue:true'] = { ...filter('overdue'), dueAtOrBefore: now };
  // The page and the counts are independent statements: side by side on the pool (two cores),
  // not the counts waiting for the page.
  const [listed, n] = await Promise.all([rows, tasks.countTasksCapped(db, wanted, COUNT_CAP)]);
  const more = listed.length > q.pageSize;
  const page = listed.slice(0, q.pageSize);
  if (totalFromStatuses) n.total = tasks.LIVE_STATUSES.reduce((sum, s) => sum + n[`status:${s}`], 0);

  const remaining = remainingFn(await ctx.calendars.forRegion(db, actor.regionCode), now);
  const last = page.at(-1);
  return {
    items: page.map((r) => {
      const def = ctx.registry.latest(r.procedure_id);
      return inboxItem(def, { ...r, actions: taskActions(actor, def, r) }, remaining);
    }),
    total: Math.min(n.total, COUNT_CAP),
    totalExact: n.total < COUNT_CAP,
    page: q.page,
    pageSize: q.pageSize,
    sort,
    nextCursor: more && last ? encodeCursor({ sort, at: sort === 'due' ? last.due_at : last.opened_at, id: last.id }) : null,
    counts: {
      status: statusValues.map((s) => counted(s, STATUS_LABELS[s], n[`status:${s}`])),
      escalation: ESCALATION_LEVELS.map((e) => counted(e, ESCALATION_LABELS[e], n[`escalation:${e}`])),
      procedure: procedures.map((d) => counted(d.id, d.name, n[`procedure:${d.id}`])),
      overdue: counted('true', '已超期', n['overdue:true']),
    },
    countCap: COUNT_CAP,
  };
}
