import type { Knex } from 'knex';

/** Role the service acts as after migrating; it may read and append the event log, never rewrite it. */
export const APP_ROLE = 'onewindow_app';

// Trust: a hash-chained, append-only event log; idempotency keys; rate-limit buckets shared by
// every process; a log of who saw full personal data.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('case_events', (t) => {
    // SM3 (GB/T 32905) of the row's canonical content and the previous row's hash.
    t.string('prev_hash', 64);
    t.string('hash', 64);
  });
  await knex.schema.alterTable('cases', (t) => {
    // Hash of the case's latest event: the next event chains to it without another query.
    t.string('chain_head', 64);
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.uuid('user_id').notNullable();
    t.string('key', 200).notNullable();
    t.string('request_hash', 64).notNullable();
    t.integer('status_code');
    t.jsonb('response');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.primary(['user_id', 'key']);
  });
  await knex.raw('create index idempotency_keys_created on idempotency_keys (created_at)');

  await knex.schema.createTable('rate_limits', (t) => {
    t.string('bucket', 300).primary();
    t.integer('hits').notNullable();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.timestamp('locked_until', { useTz: true });
  });

  await knex.schema.createTable('personal_data_access', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('user_id').notNullable().references('users.id');
    t.uuid('case_id').notNullable().references('cases.id');
    t.specificType('fields', 'text[]').notNullable();
    t.timestamp('accessed_at', { useTz: true }).notNullable();
  });

  // The application's role: full use of every table but the event log, which it may only read
  // and append to. The service connects as the owner to migrate, then SET ROLE to this role.
  await knex.raw(`do $$ begin
    if not exists (select 1 from pg_roles where rolname = '${APP_ROLE}') then create role ${APP_ROLE} nologin; end if;
  end $$`);
  await knex.raw(`grant usage on schema public to ${APP_ROLE}`);
  await knex.raw(`grant select, insert, update, delete on all tables in schema public to ${APP_ROLE}`);
  await knex.raw(`grant usage, select on all sequences in schema public to ${APP_ROLE}`);
  await knex.raw(`alter default privileges in schema public grant select, insert, update, delete on tables to ${APP_ROLE}`);
  await knex.raw(`alter default privileges in schema public grant usage, select on sequences to ${APP_ROLE}`);
  await knex.raw(`revoke update, delete, truncate on case_events from ${APP_ROLE}`);
  await knex.raw(`revoke update, delete, truncate on personal_data_access from ${APP_ROLE}`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
