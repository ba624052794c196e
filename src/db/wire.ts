import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import type { Db } from './connection.ts';

/**
 * The PostgreSQL client of the application's pool, with two savings on the command path
 * (issue 11: a transition used to pay six round trips, each a syscall pair and a wait):
 *
 * - BEGIN is deferred. Knex sends it as a statement of its own when a transaction starts; here it
 *   is held on the connection and sent in front of the transaction's first statement — in the
 *   same simple query when that statement is one of ours (`sendWire` with `begin`), else just
 *   before it. A transaction that sends nothing sends neither BEGIN nor COMMIT/ROLLBACK.
 * - COMMIT may ride with the last write (`sendWire` with `commit`), when the caller said nothing
 *   follows (runTransaction's `commitWithLastWrite`). Knex's own COMMIT then costs nothing, and
 *   any statement after it is refused rather than run outside the transaction.
 *
 * Statements sent this way go as one simple-protocol query (several statements, one round trip),
 * so their values are inlined as literals: pg's own value conversion, then pg's quoting
 * (escapeLiteral below) — what the extended protocol sends as untyped text parameters, so the server
 * infers the same types.
 */
const require = createRequire(import.meta.url);
// Knex's own PostgreSQL dialect and transaction, extended (knex has no public hook for either).
const ClientPG = require('knex/lib/dialects/postgres/index.js');
const TransactionPG = require('knex/lib/dialects/postgres/execution/pg-transaction.js');
// pg's own value conversion and quoting, as it applies them to parameters.
const pgUtils: { prepareValue(v: unknown): unknown } = require('pg/lib/utils.js');

interface WireConnection {
  query(text: string): Promise<unknown>;
  /** BEGIN (with its mode) not yet sent. */
  __owBegin?: string;
  /** COMMIT went with the last write and succeeded. */
  __owCommitted?: boolean;
}

class DeferredBeginTransaction extends TransactionPG {
  constructor(...args: any[]) {
    super(...args);
  }

  begin(conn: WireConnection) {
    const mode = [(this as any).isolationLevel ? `ISOLATION LEVEL ${(this as any).isolationLevel}` : '', (this as any).readOnly ? 'READ ONLY' : ''].join(' ').trim();
    conn.__owBegin = mode ? `BEGIN TRANSACTION ${mode};` : 'BEGIN;';
    return Promise.resolve();
  }

  // Nothing to send: BEGIN never went (nothing ran), or COMMIT already went with the last write.
  commit(conn: WireConnection, value: unknown) {
    if (!conn.__owBegin && !conn.__owCommitted) return super.commit(conn, value);
    clear(conn);
    return this.settle(1, value);
  }

  rollback(conn: WireConnection, error: unknown) {
    // After COMMIT went with the last write a ROLLBACK could undo nothing; the error still surfaces.
    if (!conn.__owBegin && !conn.__owCommitted) return super.rollback(conn, error);
    clear(conn);
    return this.settle(2, error);
  }

  /** What knex's Transaction.query does with a COMMIT's (1) or ROLLBACK's (2) outcome. */
  private settle(status: 1 | 2, value: unknown) {
    const self = this as any;
    self._completed = true;
    if (status === 1) self._resolver(value);
    else if (value === undefined && self.doNotRejectOnRollback) self._resolver();
    else self._rejecter(value ?? new Error(`Transaction rejected with non-error: ${value}`));
    return Promise.resolve();
  }
}

const clear = (conn: WireConnection) => {
  delete conn.__owBegin;
  delete conn.__owCommitted;
};

export class OneWindowPgClient extends ClientPG {
  transaction(container: unknown, config: unknown, outerTx: unknown) {
    return new DeferredBeginTransaction(this, container, config, outerTx);
  }

  async query(connection: WireConnection, queryParam: string | { sql: string }) {
    const sql = typeof queryParam === 'string' ? queryParam : queryParam.sql;
    if (connection.__owCommitted) throw new Error(`statement after the transaction committed: ${sql.slice(0, 80)}`);
    if (connection.__owBegin) {
      const begin = connection.__owBegin;
      delete connection.__owBegin;
      // Counted like any statement by knex's 'query' listeners (logging, the bench's round trips).
      (this as any).emit('query', { sql: begin, bindings: [] });
      await connection.query(begin);
    }
    return super.query(connection, queryParam);
  }
}

export function isWireClient(db: Db): boolean {
  return db.client instanceof OneWindowPgClient;
}

const transactionsEndingWithWrite = new WeakSet<object>();
const commitsSent = new WeakSet<object>();

/** From runTransaction: the caller's work ends with a write that may carry COMMIT. */
export function allowCommitWithLastWrite(trx: Knex.Transaction): void {
  if (isWireClient(trx)) transactionsEndingWithWrite.add(trx);
}

/** Whether COMMIT left with a write of `trx` (then a lost connection leaves the outcome unknown). */
export function commitWasSent(trx: Knex.Transaction): boolean {
  return commitsSent.has(trx);
}

/**
 * Whether the write being prepared may carry COMMIT: the transaction allowed it and no statement
 * has carried it yet. Asking takes the permission, so only one write ever commits.
 */
export function mayCommitWithWrite(trx: Db): boolean {
  if (!transactionsEndingWithWrite.has(trx)) return false;
  transactionsEndingWithWrite.delete(trx);
  return true;
}

/** `value` as an SQL literal, as pg would send it as an untyped parameter. */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const prepared = pgUtils.prepareValue(value);
  if (prepared === null || prepared === undefined) return 'NULL';
  return escapeLiteral(Buffer.isBuffer(prepared) ? `\\x${prepared.toString('hex')}` : String(prepared));
}

/**
 * pg's escapeLiteral, same output, without its loop that rebuilds the string a character at a
 * time: a transition inlines a few kilobytes of snapshot JSON, which mostly has nothing to escape.
 */
export function escapeLiteral(s: string): string {
  if (!/['\\]/.test(s)) return `'${s}'`;
  const body = s.replace(/'/g, "''");
  return s.includes('\\') ? ` E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/** Knex's `?` placeholders (as `toSQL()` gives them; `\?` is a literal `?`) filled with literals. */
export function inline(sql: string, bindings: readonly unknown[]): string {
  let i = 0;
  const out = sql.replace(/(\\*)\?/g, (match, escapes: string) => {
    if (escapes.length % 2) return `${escapes.slice(1)}?`;
    if (i >= bindings.length) throw new Error('more placeholders than bindings');
    return `${escapes}${literal(bindings[i++])}`;
  });
  if (i !== bindings.length) throw new Error('more bindings than placeholders');
  return out;
}

/**
 * Sends `statements` (complete SQL, values already literal) as one simple query on the
 * transaction's connection; returns each statement's rows. `begin`: the deferred BEGIN goes in
 * front (if still unsent). `commit`: COMMIT goes last — call only after mayCommitWithWrite.
 */
export async function sendWire(trx: Db, statements: string[], options: { commit?: boolean } = {}): Promise<Array<Array<Record<string, any>>>> {
  const client = trx.client as unknown as { acquireConnection(): Promise<WireConnection>; emit(e: string, q: unknown): void };
  const connection = await client.acquireConnection();
  if (connection.__owCommitted) throw new Error('statement after the transaction committed');
  const begin = connection.__owBegin;
  delete connection.__owBegin;
  const text = [...(begin ? [begin] : []), ...statements.map((s) => `${s};`), ...(options.commit ? ['COMMIT;'] : [])].join('\n');
  // Seen by knex's 'query' listeners like any statement (logging, the bench's round-trip count).
  client.emit('query', { sql: text, bindings: [] });
  if (options.commit) commitsSent.add(trx);
  const response = await connection.query(text);
  if (options.commit) connection.__owCommitted = true;
  const results = (Array.isArray(response) ? response : [response]) as Array<{ rows: Array<Record<string, any>> }>;
  return results.slice(begin ? 1 : 0, (begin ? 1 : 0) + statements.length).map((r) => r.rows);
}
