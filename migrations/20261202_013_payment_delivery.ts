import type { Knex } from 'knex';

// Payment delivery (发放, issue 10; docs/payments.md). The engine's `payment.requested` outbox rows
// are delivered by src/payments/deliverer.ts to the bank: in a 一卡通 社会化发放 batch file (the
// embedded default) or through a bank/finance HTTP gateway. Each payment row carries its delivery
// state; a failed payment is corrected and re-sent as a new *round* of the SAME payment (the
// instruction id `<paymentId>-<round>`), never as a second payment row.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    // requested → sent → paid | failed (→ correction → requested, round + 1); incident after N
    // delivery failures (→ requested by an admin's retry, or abandoned by an admin's resolve).
    t.string('status', 12).notNullable().defaultTo('requested');
    // Correction rounds: the instruction the bank sees is `<id>-<round>`.
    t.integer('round').notNullable().defaultTo(1);
    t.integer('attempts').notNullable().defaultTo(0);
    // Null until the deliverer took the payment's outbox row (then due at once, later after back-off).
    t.timestamp('next_attempt_at', { useTz: true });
    t.string('locked_by', 64);
    t.timestamp('locked_until', { useTz: true });
    t.text('last_error');
    // batch-file | http-gateway
    t.string('channel', 16);
    t.bigInteger('batch_id');
    // The bank's reference: the gateway's on acceptance, the result file's 银行流水号 once paid.
    t.string('bank_reference', 128);
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('paid_at', { useTz: true });
    t.string('failure_reason', 200);
    // The open 发放失败更正 service task of the failed round, if any.
    t.uuid('correction_task_id').references('tasks.id');
    t.timestamp('updated_at', { useTz: true });
    // An admin's decision on an incident.
    t.uuid('resolved_by').references('users.id');
    t.timestamp('resolved_at', { useTz: true });
    t.string('resolution', 200);
  });
  await knex.raw(`alter table payments add constraint payments_status check (status in ('requested', 'sent', 'paid', 'failed', 'incident', 'abandoned'))`);
  // What a deliverer claims: requested payments whose next attempt is due.
  await knex.raw(`create index payments_due on payments (status, next_attempt_at)`);
  await knex.raw(`create index payments_by_status on payments (status, id)`);
  await knex.raw(`create index outbox_pending_payments on outbox (created_at, id) where processed_at is null and kind = 'payment.requested'`);

  // One file per region and month; its lines are rows below, the file is rendered from them.
  await knex.schema.createTable('payment_batches', (t) => {
    t.bigIncrements('id').primary();
    t.string('region_code', 12).notNullable();
    t.string('month', 7).notNullable(); // YYYY-MM (Asia/Shanghai) the instructions were written
    t.string('file_name', 200).notNullable();
    t.integer('line_count').notNullable().defaultTo(0);
    t.bigInteger('total_fen').notNullable().defaultTo(0);
    t.string('sha256', 64);
    t.timestamp('written_at', { useTz: true });
    // The last line the file on disk holds: a batch with a later line is re-rendered.
    t.bigInteger('rendered_line_id');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.unique(['region_code', 'month']);
  });
  await knex.schema.createTable('payment_batch_lines', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('batch_id').notNullable().references('payment_batches.id');
    t.bigInteger('payment_id').notNullable().references('payments.id');
    t.integer('round').notNullable();
    // `<paymentId>-<round>`: the bank's idempotency key. Unique: a payment delivered twice (a
    // deliverer died after writing, before recording) is one line in one file.
    t.string('instruction_id', 40).notNullable().unique();
    t.bigInteger('amount_fen').notNullable();
    t.string('period', 7).notNullable();
    // What the bank is told, fixed when the line is written (a later correction does not rewrite
    // an old instruction): the payee's name and the bank card, sealed like the applicant's.
    t.string('payee_name', 100).notNullable();
    t.text('bank_card').notNullable();
    t.string('reference', 40).notNullable();
    t.string('summary', 40).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
  });
  await knex.raw(`create index payment_batch_lines_by_batch on payment_batch_lines (batch_id, id)`);

  // Imported result files: the same file (by SHA-256) imported again is a no-op.
  await knex.schema.createTable('payment_reconciliations', (t) => {
    t.bigIncrements('id').primary();
    t.string('sha256', 64).notNullable();
    t.string('region_code', 12).notNullable();
    t.string('file_name', 200);
    t.uuid('imported_by').notNullable().references('users.id');
    t.timestamp('imported_at', { useTz: true }).notNullable();
    t.jsonb('result').notNullable();
    t.unique(['region_code', 'sha256']);
  });

  // Incidents over failed timers: an admin's retry or resolve is recorded on the timer.
  await knex.schema.alterTable('timers', (t) => {
    t.uuid('resolved_by').references('users.id');
    t.timestamp('resolved_at', { useTz: true });
    t.string('resolution', 200);
  });
  await knex.raw(`create index timers_failed on timers (id) where status = 'failed'`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
