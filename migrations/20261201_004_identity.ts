import type { Knex } from 'knex';

// Identity: users can be stopped. A disabled user cannot log in and every token of theirs fails
// at once; revoking sessions deletes them by user, which needs an index on sessions.user_id.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.timestamp('disabled_at', { useTz: true });
    t.uuid('disabled_by').references('users.id');
    t.timestamp('password_changed_at', { useTz: true });
  });
  await knex.raw('create index sessions_by_user on sessions (user_id)');
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
