import type { Knex } from 'knex';

// The workbench's read models (issue 8): the inbox in due-date order with keyset pages, and the
// supervision board's cases closed per day.
export async function up(knex: Knex): Promise<void> {
  // When a case reached a final state; earlier finished cases take their last update.
  await knex.schema.alterTable('cases', (t) => {
    t.timestamp('closed_at', { useTz: true });
  });
  await knex.raw(`update cases set closed_at = updated_at where status = 'done' and closed_at is null`);
  await knex.raw(`create index if not exists cases_closed on cases (region_code, closed_at) where closed_at is not null`);
  // A department's live queue in (due date, id) order: the inbox's default sort and its keyset.
  await knex.raw(`create index if not exists tasks_live_due on tasks (department, due_at, id) where status in ('open', 'claimed')`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
