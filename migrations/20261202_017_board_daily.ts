import type { Knex } from 'knex';

/*
 * The supervision board at a million cases (issue 11, docs/benchmarks.md "Inbox and board at a
 * million").
 *
 * board_daily_cases: cases of a region scope (a supervisor's region code, matched as a prefix)
 * opened and closed on one China-time day, for days that are over — a case's created_at is set
 * once when it opens and its closed_at once when it closes, both at the transaction's "now", and
 * nothing moves them later, so a settled day's numbers never change. The board fills the rows it
 * lacks (insert … on conflict do nothing: any number of service processes may race, they write the
 * same numbers) and counts only the last two days live. No row is touched by opening or closing a
 * case, so case creation does not queue on it.
 *
 * tasks_live_red_delay: the largest red-card delay (red_at − due_at) among dated live tasks, one
 * index probe (and whether one has no red date: its null entries). Overdue-not-red (黄牌) means
 * due_at <= now < red_at, so due_at > now − that delay: it bounds the due-date range the overdue
 * counts and lists walk, instead of walking every red task first (src/db/tasks.ts overdueDueAfter).
 *
 * tasks_live_due as migration 016 meant it: (due_at, id) over all departments, for the board's
 * lists and counts that name no department. 016's `create index if not exists` found the name
 * taken by migration 006's (department, due_at, id) — the same keys as tasks_live_dept_due — and
 * did nothing, so those lists walked a department-led index from end to end (~400 ms at a million).
 * Only what the all-departments overdue count reads rides along (region, red date): with the
 * department and procedure in it too, the planner took it for one pair's overdue count (the
 * pair's columns a filter over every department's overdue range, 60,000 entries for 2,300).
 */
const LIVE = `where status in ('open', 'claimed')`;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('board_daily_cases', (t) => {
    t.text('region_prefix').notNullable();
    t.date('day').notNullable();
    t.integer('opened').notNullable();
    t.integer('closed').notNullable();
    t.primary(['region_prefix', 'day']);
  });
  await knex.raw('drop index if exists tasks_live_due');
  await knex.raw(`create index tasks_live_due on tasks (due_at, id) include (region_code, red_at) ${LIVE}`);
  await knex.raw(`create index if not exists tasks_live_red_delay on tasks ((red_at - due_at)) ${LIVE} and due_at is not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists tasks_live_red_delay');
  await knex.raw('drop index if exists tasks_live_due');
  await knex.raw(`create index tasks_live_due on tasks (department, due_at, id) ${LIVE}`);
  await knex.schema.dropTableIfExists('board_daily_cases');
}
