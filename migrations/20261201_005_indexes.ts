import type { Knex } from 'knex';

// Indexes for every statement a command, a timer firing, a login and a tracking request runs, so
// their cost does not grow with the database (test/integration/query-plans.test.ts proves it).
export async function up(knex: Knex): Promise<void> {
  // Closing a task cancels its pending timers (`task_id in (…) and status = 'pending'`): without
  // this, a sequential scan of every timer ever written (24–41 ms with 300,000 pending).
  await knex.raw(`create index if not exists timers_pending_by_task on timers (task_id) where status = 'pending'`);
  // A case's tasks, live or not (case view, personal-data entitlement): only live ones had an index.
  await knex.raw(`create index if not exists tasks_by_case on tasks (case_id, opened_at)`);
  // Revoking a user's sessions. Migration 004 may already have one (another name): add it only if
  // no index of sessions starts with user_id.
  await knex.raw(`do $$ begin
    if not exists (
      select 1 from pg_index i
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
      where i.indrelid = 'sessions'::regclass and a.attname = 'user_id'
    ) then
      create index sessions_by_user on sessions (user_id);
    end if;
  end $$`);
  // Purging expired idempotency keys by age: 003 created it; kept here so the set is complete.
  await knex.raw(`create index if not exists idempotency_keys_created on idempotency_keys (created_at)`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
