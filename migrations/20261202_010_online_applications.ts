import type { Knex } from 'knex';

// 网上申请 (issue 9, 受办分离): applications citizens start online. Nothing here is a case: a
// township window's clerk accepts a confirmed (submitted) application into a case through the
// same engine path as the window (POST /api/cases), or returns it with a 一次性告知.
// The phone confirmation code reaches the applicant through the notice dispatcher, so the outbox
// and notice rows of an application carry application_id instead of case_id.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('online_applications', (t) => {
    // 128 random bits, base64url: the citizen's handle, unguessable and meaningless.
    t.string('id', 32).primary();
    t.string('procedure_id', 64).notNullable();
    // The township whose window receives it.
    t.string('region_code', 12).notNullable().references('regions.code');
    // draft (phone not confirmed) | submitted (in the 预审 queue) | accepted | returned
    t.string('status', 10).notNullable();
    t.string('applicant_name', 100).notNullable();
    // Encrypted like a case's (PersonalDataCipher.seal): ID number, phone, bank card.
    t.jsonb('applicant').notNullable();
    t.jsonb('application').notNullable();
    // Declared materials [{ code, count }]: nothing is uploaded or stored.
    t.jsonb('materials').notNullable();
    // The one-time phone code: SHA-256 of id:code only, its expiry and wrong attempts.
    t.string('code_hash', 64);
    t.timestamp('code_expires_at', { useTz: true });
    t.integer('code_attempts').notNullable().defaultTo(0);
    t.timestamp('code_sent_at', { useTz: true });
    t.integer('codes_sent').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('submitted_at', { useTz: true });
    t.timestamp('decided_at', { useTz: true });
    t.uuid('decided_by').references('users.id');
    t.uuid('case_id').references('cases.id');
    // A return's 一次性告知: [material code] and a note.
    t.jsonb('returned_missing');
    t.string('return_note', 500);
  });
  await knex.raw(`alter table online_applications add constraint online_applications_status check (status in ('draft', 'submitted', 'accepted', 'returned'))`);
  // The 预审 queue: a township's submitted applications, oldest first (keyset on submitted_at, id).
  await knex.raw(`create index online_applications_queue on online_applications (status, region_code, submitted_at, id)`);

  // Notices of an application (the phone code, a return) have no case.
  await knex.raw(`alter table outbox alter column case_id drop not null`);
  await knex.raw(`alter table outbox add column application_id varchar(32) references online_applications (id)`);
  // An application's notices, without reading the cases' rows.
  await knex.raw(`create index outbox_by_application on outbox (application_id) where application_id is not null`);
  await knex.raw(`alter table notices alter column case_id drop not null`);
  await knex.raw(`alter table notices add column application_id varchar(32) references online_applications (id)`);
  await knex.raw(`alter table notice_sink_messages alter column case_id drop not null`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
