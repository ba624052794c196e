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
  const last = select === undefined ? writes.length - 1 : writes.length;
  const wrap = (i: number, sql: string) => (i < last ? `${i ? ', ' : 'with '}w${i} as (${sql})` : ` ${sql}`);
  if (commit) {
    // The wire: every value inlined as a literal, one simple query with COMMIT behind it.
    let text = '';
    writes.forEach((w, i) => {
      text += wrap(i, w instanceof Sql ? w.inlined() : inlineBuilder(w));
    });
    if (select !== undefined) text += ` ${select}`;
    return (await sendWire(db, [text.trimStart()], { commit: true }))[0];
  }
  let text = '';
  const bindings: unknown[] = [];
  writes.forEach((w, i) => {
    const part = w instanceof Sql ? w.bound() : w.toSQL();
    text += wrap(i, part.sql);
    bindings.push(...(part.bindings as unknown[]));
  });
  if (select !== undefined) text += ` ${select}`;
  const { rows } = await db.raw(text.trimStart(), bindings as Knex.RawBinding[]);
  return rows as Array<Record<string, unknown>>;
}

function inlineBuilder(w: Knex.QueryBuilder): string {
  const { sql, bindings } = w.toSQL();
  return inline(sql, bindings);
}
