import type { Knex } from 'knex';

// Definition migration (issue 10, docs/versioning.md): the tool walks the running cases of one
// procedure version in id order, a batch at a time; without this index every batch would scan
// the whole cases table.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index if not exists cases_running_by_version on cases (procedure_id, definition_version, id) where status = 'running'`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
