import type { Knex } from 'knex';

// A lead's review due date counted through a year whose holidays are not yet announced is a
// guess (docs/deadlines.md, provisional calendar): marked like a task's, and recomputed with the
// cases' deadlines when the official schedule is loaded (src/engine/calendarRecompute.ts).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('leads', (t) => {
    t.boolean('review_due_provisional').notNullable().defaultTo(false);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
