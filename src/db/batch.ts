import type { Knex } from 'knex';
import type { Db } from './connection.ts';
import { Sql } from './sql.ts';
import { inline, mayCommitWithWrite, sendWire } from './wire.ts';

/**
 * Runs independent writes of one command as a single statement — each a data-modifying CTE
 * (`with w0 as (…), w1 as (…) …`) — so a transition pays one round trip and one parse for them
 * instead of one per write. Only for writes that touch distinct rows and need nothing from each
 * other: CTEs run against one snapshot, and a row changed twice in one statement is undefined.
 * Foreign keys still hold: their checks run at the end of the statement, when every CTE ran.
 *
 * `select` reads what the writes return (`w0`, `w1`… by position; give those a RETURNING);
 * without it, nothing is returned.
 *
 * `commit`: the caller writes nothing after this statement. If the transaction allows it
 * (runTransaction's commitWithLastWrite, PostgreSQL only), COMMIT goes in the same round trip
 * (db/wire.ts). A check that must undo the command then has to fail inside the statement
 * (ow_expect, migration 020), since there is no later chance to roll back.
 */
export async function writeTogether(db: Db, writes: Array<Knex.QueryBuilder | Sql>, select?: string, options: { commit?: boolean } = {}): Promise<Array<Record<string, unknown>>> {
  if (writes.length === 0) return [];
  const commit = options.commit === true && mayCommitWithWrite(db);
  if (writes.length === 1 && select === undefined && !commit) {
    const [only] = writes;
    if (only instanceof Sql) await only.run(db);
    else await only;
    return [];
  }
  if (commit) {
    // The wire: every value inlined as a literal, one simple query with COMMIT behind it.
    const text = together(writes.map((w) => (w instanceof Sql ? w.inlined() : inlineBuilder(w))), select);
    return (await sendWire(db, [text], { commit: true }))[0];
  }
  const parts = writes.map((w) => (w instanceof Sql ? w.bound() : w.toSQL()));
  const { rows } = await db.raw(together(parts.map((p) => p.sql), select), parts.flatMap((p) => p.bindings as unknown[]) as Knex.RawBinding[]);
  return rows as Array<Record<string, unknown>>;
}

/** `with w0 as (…), w1 as (…) <main>`: the last statement is the main one unless `select` is. */
function together(statements: string[], select?: string): string {
  const ctes = select === undefined ? statements.slice(0, -1) : statements;
  const main = select ?? statements[statements.length - 1];
  return ctes.length ? `with ${ctes.map((sql, i) => `w${i} as (${sql})`).join(', ')} ${main}` : main;
}

function inlineBuilder(w: Knex.QueryBuilder): string {
  const { sql, bindings } = w.toSQL();
  return inline(sql, bindings);
}
