import type { Knex } from 'knex';

// Operations (issue 10, docs/operations.md): every worker loop (timers, notices, any later one)
// records that it is alive, so that /readyz of any service process can tell whether the work
// the service depends on is being done — across processes, through the one database.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('worker_heartbeats', (t) => {
    // hostname:pid:random (TimerWorker, NoticeDispatcher): one row per running loop.
    t.string('worker_id', 100).primary();
    // timers | notices | …
    t.string('kind', 32).notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('beat_at', { useTz: true }).notNullable();
  });
  // Readiness reads the newest beat per kind.
  await knex.raw(`create index worker_heartbeats_by_kind on worker_heartbeats (kind, beat_at)`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
