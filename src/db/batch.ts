import type { Knex } from 'knex';
import type { Db } from './connection.ts';
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
export async function writeTogether(db: Db, writes: Knex.QueryBuilder[], select?: string, options: { commit?: boolean } = {}): Promise<Array<Record<string, unknown>>> {
  if (writes.length === 0) return [];
  const commit = options.commit === true && mayCommitWithWrite(db);
  if (writes.length === 1 && select === undefined && !commit) {
    await writes[0];
    return [];
  }
  const parts = writes.map((w) => w.toSQL());
  const ctes = (select === undefined ? parts.slice(0, -1) : parts).map((p, i) => `w${i} as (${p.sql})`);
  const main = select ?? parts[parts.length - 1].sql;
  const sql = ctes.length ? `with ${ctes.join(', ')} ${main}` : main;
  const bindings = parts.flatMap((p) => p.bindings as readonly Knex.RawBinding[]);
  if (commit) return (await sendWire(db, [inline(sql, bindings)], { commit: true }))[0];
  const { rows } = await db.raw(sql, bindings);
  return rows as Array<Record<string, unknown>>;
}
