import type { Knex } from 'knex';

// Provisional calendar (issue 10, docs/deadlines.md): a due date computed through a year whose
// holiday notice is not loaded is marked provisional; loading the notice queues a recompute job
// that the worker loop works through in batches (claimed with SKIP LOCKED and a lease).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tasks', (t) => {
    t.boolean('deadline_provisional').notNullable().defaultTo(false);
  });
  await knex.schema.alterTable('cases', (t) => {
    t.boolean('deadline_provisional').notNullable().defaultTo(false);
  });
  await knex.schema.createTable('calendar_recompute_jobs', (t) => {
    t.bigIncrements('id').primary();
    // The calendar loaded: 'CN' recomputes every region, a region code that region and below.
    t.string('region_code', 12).notNullable();
    t.integer('year').notNullable();
    t.string('source').notNullable();
    // pending | done | failed
    t.string('status', 10).notNullable().defaultTo('pending');
    // Not claimed before: processes that cached the old calendar have dropped it by then.
    t.timestamp('not_before', { useTz: true }).notNullable();
    // Cases are walked in id order; the last id of the last committed batch.
    t.uuid('after_case_id');
    t.integer('cases_seen').notNullable().defaultTo(0);
    t.integer('cases_changed').notNullable().defaultTo(0);
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('locked_by', 64);
    t.timestamp('locked_until', { useTz: true });
    t.text('last_error');
    t.uuid('requested_by');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true });
  });
  await knex.raw(`create index calendar_recompute_jobs_pending on calendar_recompute_jobs (not_before) where status = 'pending'`);
  // The recompute looks for live tasks by their latest date (red_at ≥ the year's first day).
  await knex.raw(`create index tasks_live_red_at on tasks (red_at) where status in ('open', 'claimed')`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
