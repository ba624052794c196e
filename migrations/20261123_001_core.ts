import type { Knex } from 'knex';

// Core schema: regions, users and sessions, cases with their append-only event log,
// department tasks, payments (the money ledger) and the outbox of side effects.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('regions', (t) => {
    // 行政区划代码; codes are hierarchical by prefix (330106 county ⊃ 330106001 township).
    t.string('code', 12).primary();
    t.string('name').notNullable();
    t.string('parent_code', 12).references('regions.code');
    // Per-region procedure settings, e.g. {"assistanceConfirmationDelegated": true}.
    t.jsonb('settings').notNullable().defaultTo('{}');
  });

  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary();
    t.string('username', 64).notNullable().unique();
    t.string('password_hash').notNullable();
    t.string('display_name').notNullable();
    t.string('region_code', 12).notNullable().references('regions.code');
    t.string('department', 64).notNullable();
    t.specificType('roles', 'text[]').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('sessions', (t) => {
    // Only a hash of the bearer token is stored: a database leak yields no usable token.
    t.string('token_hash', 64).primary();
    t.uuid('user_id').notNullable().references('users.id');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('reference_sequences', (t) => {
    t.string('region_code', 12).notNullable();
    t.string('procedure_code', 8).notNullable();
    t.string('day', 8).notNullable();
    t.integer('last_seq').notNullable();
    t.primary(['region_code', 'procedure_code', 'day']);
  });

  await knex.schema.createTable('cases', (t) => {
    t.uuid('id').primary();
    t.string('reference', 40).notNullable().unique();
    t.string('tracking_code_hash', 64).notNullable();
    t.string('procedure_id', 64).notNullable();
    t.integer('definition_version').notNullable();
    t.string('region_code', 12).notNullable().references('regions.code');
    // running | done | error — mirrors the XState snapshot status.
    t.string('status', 16).notNullable();
    t.jsonb('state_value').notNullable();
    t.jsonb('snapshot').notNullable();
    t.integer('version').notNullable();
    t.string('applicant_name').notNullable();
    // Personal data stays out of the chart snapshot: the statechart sees only what it decides on.
    t.jsonb('applicant').notNullable();
    t.jsonb('application').notNullable();
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['region_code', 'created_at']);
  });

  await knex.schema.createTable('case_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('case_id').notNullable().references('cases.id');
    // Case version after this event; (case_id, seq) is unique so a lost race cannot append twice.
    t.integer('seq').notNullable();
    t.string('type', 64).notNullable();
    t.jsonb('payload').notNullable();
    t.uuid('actor_id').references('users.id');
    t.string('actor_name');
    t.jsonb('from_state');
    t.jsonb('to_state').notNullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable();
    t.unique(['case_id', 'seq']);
  });

  await knex.schema.createTable('tasks', (t) => {
    t.uuid('id').primary();
    t.uuid('case_id').notNullable().references('cases.id');
    t.string('procedure_id', 64).notNullable();
    t.string('region_code', 12).notNullable();
    // The chart state that opened this task (its full state-node id).
    t.string('state_id').notNullable();
    t.string('title').notNullable();
    t.string('department', 64).notNullable();
    t.string('role', 32).notNullable();
    t.specificType('actions', 'text[]').notNullable();
    t.jsonb('time_limit');
    // open | claimed | completed | cancelled
    t.string('status', 16).notNullable();
    t.uuid('assignee_id').references('users.id');
    t.timestamp('opened_at', { useTz: true }).notNullable();
    t.timestamp('closed_at', { useTz: true });
    t.uuid('closed_by').references('users.id');
    t.string('outcome', 64);
  });
  // The engine finds a case's live tasks on every transition; the inbox lists by department.
  await knex.raw(
    `create index tasks_live_by_case on tasks (case_id) where status in ('open', 'claimed')`,
  );
  await knex.raw(
    `create index tasks_inbox on tasks (department, status, region_code, opened_at)`,
  );

  await knex.schema.createTable('payments', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('case_id').notNullable().references('cases.id');
    t.string('period', 7).notNullable(); // YYYY-MM
    t.bigInteger('amount_fen').notNullable();
    t.bigInteger('event_id').notNullable().references('case_events.id');
    t.timestamp('created_at', { useTz: true }).notNullable();
    // The one rule that must never break: a case is paid at most once per month.
    t.unique(['case_id', 'period']);
  });

  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('case_id').notNullable().references('cases.id');
    t.string('kind', 64).notNullable();
    t.jsonb('payload').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('processed_at', { useTz: true });
  });
  await knex.raw(`create index outbox_pending on outbox (id) where processed_at is null`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
