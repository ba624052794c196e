import type { Knex } from 'knex';
import { DomainError, serviceUnavailable } from '../engine/errors.ts';
import { allowCommitWithLastWrite, commitWasSent } from './wire.ts';

/**
 * How a database failure bears on a transaction:
 * - `connection`: the connection died or could not be made (server restart, terminated backend,
 *   network cut). Before COMMIT was sent the server certainly rolled back; after, nobody knows.
 * - `conflict`: serialization failure or deadlock — the server rolled the transaction back.
 * - `pool`: no connection could be acquired in time; nothing ran.
 * - `timeout`: a statement was cancelled (statement_timeout, request deadline) or a lock could
 *   not be had in time (lock_timeout, NOWAIT); the transaction rolled back.
 */
export type DbFailure = 'connection' | 'conflict' | 'pool' | 'timeout';

const CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03']);
const CONNECTION_MESSAGES = /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|Connection ended unexpectedly|timeout expired|terminating connection/i;

export function classifyDbError(err: unknown): DbFailure | null {
  if (!(err instanceof Error)) return null;
  const code = String((err as { code?: unknown }).code ?? '');
  if (err.name === 'KnexTimeoutError' || /Timeout acquiring a connection/.test(err.message)) return 'pool';
  if (CONNECTION_CODES.has(code) || code.startsWith('08')) return 'connection';
  if (code === '40001' || code === '40P01') return 'conflict';
  if (code === '57014' || code === '55P03') return 'timeout';
  if (!code && CONNECTION_MESSAGES.test(err.message)) return 'connection';
  return null;
}

/** A database failure as the refusal a client can act on (503 + Retry-After); other errors unchanged. */
export function asDomainError(err: unknown): unknown {
  if (err instanceof DomainError) return err;
  return classifyDbError(err) ? serviceUnavailable(classifyDbError(err) === 'pool' ? 2 : 1) : err;
}

/** Longest a command may run, from its first statement: past it the statement is cancelled (503). */
export const COMMAND_DEADLINE_MS = 15_000;

export interface RunOptions {
  /** Aborted when the client has gone away: the running statement is cancelled, its connection freed. */
  signal?: AbortSignal;
  deadlineMs?: number;
  /**
   * The work ends with a write that says so (writeTogether's `commit`): on PostgreSQL COMMIT
   * then goes in that write's round trip (db/wire.ts). Only for work that writes nothing after.
   */
  commitWithLastWrite?: boolean;
}

/**
 * Runs `work` in one transaction, so that an unavailable database never surfaces as a bare 500:
 * - if the connection died (or the server rolled back on a deadlock) before COMMIT was sent, the
 *   transaction certainly did not happen and is run once more, transparently;
 * - if it died while committing, the outcome is unknown: 503 with Retry-After — a retry with the
 *   same Idempotency-Key either replays the committed answer or runs the command;
 * - a client that goes away, or a command past its deadline, has its statement cancelled on the
 *   server, so it stops holding a pooled connection and any locks.
 * Refusals (DomainError) pass through unchanged.
 */
export async function runTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>, options: RunOptions = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let workDone = false;
    let transaction: Knex.Transaction | undefined;
    try {
      return await db.transaction(async (trx) => {
        transaction = trx;
        if (options.commitWithLastWrite) allowCommitWithLastWrite(trx);
        const result = await guarded(db, trx, work, options);
        workDone = true; // from here on, knex sends COMMIT
        return result;
      });
    } catch (err) {
      if (err instanceof DomainError) throw err;
      const failure = classifyDbError(err);
      if (!failure) throw err;
      // COMMIT may have left with the work's last write: then, as after knex's own COMMIT, nobody knows.
      const commitSent = workDone || (transaction !== undefined && commitWasSent(transaction));
      const certainlyRolledBack = !commitSent && (failure === 'connection' || failure === 'conflict');
      if (certainlyRolledBack && attempt === 0 && !options.signal?.aborted) continue;
      throw asDomainError(err);
    }
  }
}

/** Runs `work`, cancelling its statement on the server if the signal fires or the deadline passes. */
async function guarded<T>(db: Knex, trx: Knex.Transaction, work: (trx: Knex.Transaction) => Promise<T>, options: RunOptions): Promise<T> {
  if (options.signal?.aborted) throw serviceUnavailable(1);
  // PGlite runs in this process on one connection: nothing to cancel remotely.
  if (!isPg(db)) return work(trx);
  let cancelled = false;
  const cancel = () => {
    if (cancelled) return;
    cancelled = true;
    void cancelBackendOf(db, trx);
  };
  const timer = setTimeout(cancel, options.deadlineMs ?? COMMAND_DEADLINE_MS);
  options.signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await work(trx);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
  }
}

const isPg = (db: Knex) => (db.client as { driverName?: string }).driverName === 'pg';

/** pg_cancel_backend on the transaction's connection, from a fresh connection outside the pool (the pool may be full). */
async function cancelBackendOf(db: Knex, trx: Knex.Transaction): Promise<void> {
  try {
    const connection = await (trx.client as unknown as { acquireConnection(): Promise<unknown> }).acquireConnection();
    await (db.client as unknown as { cancelQuery(c: unknown): Promise<unknown> }).cancelQuery(connection);
  } catch {
    // Best effort: the statement and lock timeouts still bound how long it can run.
  }
}
