import type { Knex } from 'knex';

/**
 * ow_expect(condition, code): raises SQLSTATE OW409 with `code` as its message when the
 * condition is not true. A transition's write carries COMMIT in the same round trip
 * (src/db/wire.ts), so a check that must undo it — the case version — has to fail the
 * statement itself: the error aborts the transaction and the COMMIT after it never runs.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function ow_expect(condition boolean, code text) returns boolean
    language plpgsql as $$
    begin
      if condition is not true then
        raise exception using errcode = 'OW409', message = code;
      end if;
      return true;
    end
    $$`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
