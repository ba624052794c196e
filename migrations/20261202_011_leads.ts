import type { Knex } from 'knex';

// 主动发现 (issue 9, docs/leads.md): a grid worker (网格员) registers a lead — a household that may
// need assistance. The township reviews it by `review_due_at` and closes it with a reason or
// converts it into a 临时救助 case (case_id). Personal data (`household`) is sealed like a case's
// applicant; the head's name is kept in the clear for lists, masked on the way out.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('leads', (t) => {
    t.uuid('id').primary();
    t.string('region_code', 12).notNullable();
    // normal | urgent
    t.string('urgency', 8).notNullable();
    // open | converted | closed
    t.string('status', 10).notNullable().defaultTo('open');
    t.string('head_name', 50).notNullable();
    // { name, idNumber, phone, address, size }: idNumber and phone encrypted (PersonalDataCipher).
    t.jsonb('household').notNullable();
    t.text('situation').notNullable();
    t.string('suggested_procedure', 40).notNullable();
    t.uuid('registered_by').notNullable().references('users.id');
    t.string('registered_by_name', 100).notNullable();
    t.timestamp('registered_at', { useTz: true }).notNullable();
    // null when the region's calendar does not cover the date (review_due_note says why).
    t.timestamp('review_due_at', { useTz: true });
    t.string('review_due_note', 60);
    t.uuid('reviewed_by').references('users.id');
    t.string('reviewed_by_name', 100);
    t.timestamp('reviewed_at', { useTz: true });
    t.string('close_reason', 500);
    t.uuid('case_id').references('cases.id');
  });
  await knex.raw(`alter table leads add constraint leads_status check (status in ('open', 'converted', 'closed'))`);
  await knex.raw(`alter table leads add constraint leads_urgency check (urgency in ('normal', 'urgent'))`);
  // The township's list and the board's counts, by region prefix (newest first); the 月报告's
  // leads registered, reviewed and due in a month.
  await knex.raw(`create index leads_by_region on leads (region_code text_pattern_ops, registered_at, id)`);
  await knex.raw(`create index leads_by_registered on leads (registered_at)`);
  await knex.raw(`create index leads_by_reviewed on leads (reviewed_at)`);
  await knex.raw(`create index leads_by_review_due on leads (review_due_at)`);
  await knex.raw(`create unique index leads_by_case on leads (case_id)`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
