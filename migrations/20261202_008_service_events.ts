import type { Knex } from 'knex';

// The 月报告's service events (issue 9): ratings, 整改 and 回访 of a month are found by type and
// time, often long after their case finished, so no per-case index reaches them (docs/reports.md).
// Partial: the three types are a sliver of the event log.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `create index if not exists case_events_service on case_events (type, occurred_at) where type in ('CASE_RATED', 'RECTIFICATION_DONE', 'FOLLOW_UP_DONE')`,
  );
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
