import type { Knex } from 'knex';

/*
 * Indexes for the read side at a million cases (issue 11, docs/benchmarks.md "Inbox and board at
 * a million"). All on live tasks only (partial: `status in ('open', 'claimed')`), so they stay the
 * size of the work in hand, not of history. The region scope is a prefix (`region_code like
 * '330106%'`), which a b-tree under the database's collation cannot search; `text_pattern_ops`
 * turns it into a range. Where the region is not the leading column it rides along (INCLUDE) so
 * the filter is checked in the index, not in the table.
 */
const LIVE = `where status in ('open', 'claimed')`;

export async function up(knex: Knex): Promise<void> {
  // A department's queue in due-date order (the inbox's default view, its next pages, the
  // overdue facet and the board's per-department lists).
  await knex.raw(`create index if not exists tasks_live_dept_due on tasks (department, due_at, id)
    include (status, role, region_code, procedure_id, escalation, red_at) ${LIVE}`);
  // The same queue oldest first (sort=opened).
  await knex.raw(`create index if not exists tasks_live_dept_opened on tasks (department, opened_at, id) include (status, role, region_code) ${LIVE}`);
  // Facet counts by escalation level and by procedure: each counts its own value's entries (up to
  // the cap) instead of walking the whole queue to find a rare one.
  await knex.raw(`create index if not exists tasks_live_dept_escalation on tasks (department, escalation, due_at)
    include (status, role, region_code, procedure_id) ${LIVE}`);
  await knex.raw(`create index if not exists tasks_live_dept_procedure on tasks (department, procedure_id, due_at, id)
    include (status, role, region_code, escalation, red_at) ${LIVE}`);
  // The board's red (红牌) numbers per department and procedure, when they are counted up to the cap.
  await knex.raw(`create index if not exists tasks_live_dept_red on tasks (department, procedure_id, red_at) include (status, role, region_code) ${LIVE}`);
  // The board: every live task of a region and below, counted per department and procedure in
  // one index-only pass. Only the region is a key: with department and procedure as keys too the
  // planner took this index for one department's count and read the whole region's range.
  await knex.raw(`create index if not exists tasks_live_region on tasks (region_code text_pattern_ops) include (department, procedure_id, due_at, red_at) ${LIVE}`);
  // The board's counts by recorded escalation level (the earlier board), over all departments.
  // And its list of them, oldest deadline first: one due-date range per level, merged.
  await knex.raw(`create index if not exists tasks_live_escalation on tasks (escalation, due_at, id) include (region_code) ${LIVE}`);
  // The board's lists over all departments, in due-date order.
  await knex.raw(`create index if not exists tasks_live_due on tasks (due_at, id) include (region_code, department, procedure_id, red_at, escalation) ${LIVE}`);
  // Cases opened and closed per day (the board's 30 days) for a region prefix.
  await knex.raw(`create index if not exists cases_created_region on cases (created_at) include (region_code)`);
  await knex.raw(`create index if not exists cases_closed_region on cases (closed_at) include (region_code) where closed_at is not null`);
}

export async function down(knex: Knex): Promise<void> {
  for (const name of ['tasks_live_dept_due', 'tasks_live_dept_opened', 'tasks_live_dept_escalation', 'tasks_live_dept_procedure', 'tasks_live_dept_red', 'tasks_live_region', 'tasks_live_due', 'tasks_live_escalation', 'cases_created_region', 'cases_closed_region']) {
    await knex.raw(`drop index if exists ${name}`);
  }
}
