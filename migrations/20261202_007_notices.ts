import type { Knex } from 'knex';

// Citizen notices (issue 9): the notification dispatcher delivers the `notice.*` rows the engine
// writes to the outbox. Each notice gets its own row with an idempotency key the SMS gateway
// dedupes on, its delivery state (pending → sent | dead → pending again or discarded), attempts,
// back-off and lease; the development sink records what it "sent" so the workbench can show it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notices', (t) => {
    t.bigIncrements('id').primary();
    // The outbox row it came from: taking the same row twice (two dispatchers) adds nothing.
    t.bigInteger('outbox_id').notNullable().unique().references('outbox.id');
    t.uuid('case_id').notNullable().references('cases.id');
    t.string('region_code', 12).notNullable();
    // accepted | supplement | decision | payment | rating_invitation
    t.string('kind', 32).notNullable();
    // Sent with every attempt; the gateway (and the development sink) deliver a key once.
    t.string('idempotency_key', 64).notNullable().unique();
    // Template data. The tracking code is sealed (PersonalDataCipher); no phone number is ever
    // stored here: it is read from the case's applicant at delivery.
    t.jsonb('payload').notNullable();
    // pending | sent | dead | discarded
    t.string('status', 10).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.string('locked_by', 64);
    t.timestamp('locked_until', { useTz: true });
    t.text('last_error');
    t.string('channel', 16);
    t.string('provider_message_id', 128);
    t.integer('segments');
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    // An admin's decision on a dead letter: retried (back to pending) or discarded.
    t.uuid('resolved_by').references('users.id');
    t.timestamp('resolved_at', { useTz: true });
    t.string('resolution', 200);
  });
  await knex.raw(`alter table notices add constraint notices_status check (status in ('pending', 'sent', 'dead', 'discarded'))`);
  // What a dispatcher claims: pending notices whose next attempt is due.
  // (Not partial: a partial index on pending rows would also serve, unkeyed, the admin's counts of
  // pending notices, reading all of it; with status leading, every use has an index condition.)
  await knex.raw(`create index notices_due on notices (status, next_attempt_at)`);
  // The admin list, newest first (keyset on id), by status (dead letters), kind and case.
  await knex.raw(`create index notices_by_status on notices (status, id)`);
  await knex.raw(`create index notices_by_kind on notices (kind, id)`);
  await knex.raw(`create index notices_by_case on notices (case_id)`);

  // Outbox rows for the dispatcher, oldest first, without reading the payment rows another consumer takes.
  await knex.raw(`create index outbox_pending_notices on outbox (created_at, id) where processed_at is null and kind like 'notice.%'`);

  // The development sink: the messages it would have sent, for the workbench (no SMS leaves).
  await knex.schema.createTable('notice_sink_messages', (t) => {
    t.bigIncrements('id').primary();
    t.string('idempotency_key', 64).notNullable().unique();
    t.bigInteger('notice_id').notNullable().references('notices.id');
    t.uuid('case_id').notNullable();
    t.string('region_code', 12).notNullable();
    // 138****8000: never the full number.
    t.string('recipient_masked', 16).notNullable();
    // The text, encrypted (it may hold the tracking code).
    t.text('body').notNullable();
    t.integer('segments').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
