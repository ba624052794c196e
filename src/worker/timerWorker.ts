import { hostname } from 'node:os';
import type { Knex } from 'knex';
import { claimDueTimers, recordTimerFailure, releaseTimers } from '../db/timers.ts';
import { DomainError } from '../engine/errors.ts';
import { IDEMPOTENCY_TTL_MS, purgeKeysBefore } from '../db/idempotencyKeys.ts';
import type { Engine } from '../engine/engine.ts';
import { Heartbeat } from './heartbeat.ts';
import { runRecomputeOnce } from '../engine/calendarRecompute.ts';

export interface TimerWorkerOptions {
  db: Knex;
  engine: Engine;
  workerId?: string;
  batchSize?: number;
  /** How long a claimed batch is ours; a worker that dies loses its timers after this. */
  leaseMs?: number;
  /** Pause between polls when nothing was due. */
  idleMs?: number;
  maxAttempts?: number;
  /** Groups of a batch fired side by side, each in its own transaction (default 4, at most the pool less one). */
  concurrency?: number;
  /** Called after a claim, before firing — a fault-injection hook for crash tests. */
  afterClaim?: (ids: string[]) => void;
  log?: (msg: string, extra?: object) => void;
}

const PURGE_EVERY_MS = 60_000;

type Claimed = { id: string; caseId: string };

/** Thrown inside a savepoint-less attempt to roll it back; the group then runs with savepoints. */
class RetryWithSavepoints extends Error {}

/**
 * Splits a claimed batch (sorted by case, then due) into at most `n` groups of whole cases, in
 * the same order, balanced by the number of timers.
 */
export function splitByCase(claimed: Claimed[], n: number): Claimed[][] {
  if (n <= 1 || claimed.length <= 1) return claimed.length ? [claimed] : [];
  const target = Math.ceil(claimed.length / n);
  const groups: Claimed[][] = [];
  let current: Claimed[] = [];
  for (const [i, c] of claimed.entries()) {
    // A group closes at a case boundary once it holds its share.
    if (current.length >= target && c.caseId !== claimed[i - 1].caseId && groups.length < n - 1) {
      groups.push(current);
      current = [];
    }
    current.push(c);
  }
  groups.push(current);
  return groups;
}

export interface BatchResult {
  claimed: number;
  fired: number;
  moot: number;
  skipped: number;
  failed: number;
  /** Timers of a case another command (or an outside session) held: handed back for later, not failures. */
  busy: number;
}

/**
 * Fires due timers. Stateless: any number of workers, in any number of processes, share one
 * database — SKIP LOCKED hands each timer to one claimant, the lease returns it if that
 * claimant dies, and each firing re-checks ownership under the case lock, so a timer fires once.
 * Each timer fires through the engine like any other command (see fireGroup for transactions).
 */
export class TimerWorker {
  readonly workerId: string;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Read by /readyz of every service process (worker_heartbeats). */
  readonly heartbeat: Heartbeat;
  /** Groups of a batch fired side by side (each holds a pooled connection while it runs). */
  readonly concurrency: number;
  private lastPurge = -Infinity;

  constructor(private readonly o: TimerWorkerOptions) {
    this.workerId = o.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.heartbeat = new Heartbeat(o.db, this.workerId, 'timers', o.engine.clock);
    // One connection left for the claim and the heartbeat; PGlite has one connection in all.
    const poolMax = Number((o.db.client as { config?: { pool?: { max?: number } } }).config?.pool?.max ?? 1);
    this.concurrency = Math.max(1, Math.min(o.concurrency ?? 4, poolMax - 1));
  }

  async runOnce(): Promise<BatchResult> {
    const { db, engine } = this.o;
    const now = engine.clock();
    // Housekeeping rides along: idempotency keys are kept for IDEMPOTENCY_TTL_MS. Once a minute is
    // plenty (it only bounds the table); on every batch it was a round trip per batch under a backlog.
    if (now.getTime() - this.lastPurge >= PURGE_EVERY_MS || now.getTime() < this.lastPurge) {
      this.lastPurge = now.getTime();
      await purgeKeysBefore(db, new Date(now.getTime() - IDEMPOTENCY_TTL_MS));
    }
    // So does the deadline recompute after a calendar load, before any timer of the old dates fires.
    await runRecomputeOnce({ db, engine, workerId: this.workerId }).catch((err) =>
      this.o.log?.('deadline recompute failed', { message: err instanceof Error ? err.message : String(err) }),
    );
    const leaseUntil = new Date(now.getTime() + (this.o.leaseMs ?? 60_000));
    const claimed = await claimDueTimers(db, this.workerId, now, leaseUntil, this.o.batchSize ?? 100);
    const ids = claimed.map((c) => c.id);
    this.o.afterClaim?.(ids);
    const result: BatchResult = { claimed: ids.length, fired: 0, moot: 0, skipped: 0, failed: 0, busy: 0 };
    if (ids.length === 0) return result;
    // The batch is split by case into groups fired side by side, each in its own transaction on its
    // own connection: a firing is mostly waiting for round trips, so one connection at a time
    // left the worker idle. A case's timers stay in one group, in due order; every group locks its
    // cases in case-id order (claimDueTimers sorts), so groups and workers cannot deadlock.
    const groups = splitByCase(claimed, this.concurrency);
    const outcomes = await Promise.allSettled(groups.map((g) => this.fireGroup(g, result)));
    const deferred: string[] = [];
    const failures: Array<[string, unknown]> = [];
    let error: unknown = null;
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 'fulfilled') {
        deferred.push(...o.value.deferred);
        failures.push(...o.value.failures);
      } else {
        // The group did not commit, or its outcome is unknown (connection cut): hand its timers
        // back rather than let them wait out the lease. Best effort — the lease is the fallback.
        await releaseTimers(db, groups[i].map((c) => c.id), this.workerId).catch(() => {});
        error ??= o.reason;
      }
    }
    result.busy = deferred.length;
    await releaseTimers(db, deferred, this.workerId);
    for (const [id, err] of failures) {
      result.failed++;
      await this.recordFailure(id, err);
    }
    if (error) throw error;
    return result;
  }

  /**
   * Fires one group in one transaction (a commit, and its fsync, shared by the group). First
   * without savepoints — two round trips fewer per timer; should any timer fail, that attempt
   * rolls back whole (nothing of it committed, effects only leave through the outbox) and the
   * group runs again with a savepoint per timer, so the failing timer rolls back alone and is
   * retried later while the others fire.
   */
  private async fireGroup(group: Claimed[], result: BatchResult): Promise<{ deferred: string[]; failures: Array<[string, unknown]> }> {
    try {
      return await this.fireInTransaction(group, result, false);
    } catch (err) {
      if (!(err instanceof RetryWithSavepoints)) throw err;
      return this.fireInTransaction(group, result, true);
    }
  }

  private async fireInTransaction(group: Claimed[], result: BatchResult, savepoints: boolean): Promise<{ deferred: string[]; failures: Array<[string, unknown]> }> {
    const { db, engine } = this.o;
    const counts = { fired: 0, moot: 0, skipped: 0 };
    const failures: Array<[string, unknown]> = [];
    const busyCases = new Set<string>();
    const deferred: string[] = [];
    await db.transaction(async (trx) => {
      for (const { id, caseId } of group) {
        // Once a case was busy, its later timers wait too: within a case they fire in due order.
        // Shutting down: what is not fired yet is handed back, for another worker at once.
        if (busyCases.has(caseId) || this.stopped) {
          deferred.push(id);
          continue;
        }
        try {
          counts[savepoints ? await trx.transaction((sp) => engine.fireTimer(sp, id, this.workerId)) : await engine.fireTimer(trx, id, this.workerId)]++;
        } catch (err) {
          // Without a savepoint the transaction may be aborted: start the group over with them.
          if (!savepoints) throw new RetryWithSavepoints();
          if (err instanceof DomainError && err.code === 'CASE_BUSY') {
            busyCases.add(caseId);
            deferred.push(id);
          } else failures.push([id, err]);
        }
      }
    });
    // Counted once the group committed: a rolled-back first attempt fired nothing.
    result.fired += counts.fired;
    result.moot += counts.moot;
    result.skipped += counts.skipped;
    return { deferred, failures };
  }

  /** Retries with exponential back-off (1 s, 2 s, 4 s … capped at 1 h); gives up after maxAttempts. */
  private async recordFailure(id: string, err: unknown): Promise<void> {
    const { db, engine } = this.o;
    const row = await db('timers').where({ id }).first('attempts');
    const attempts = Number(row?.attempts ?? 1);
    const delay = Math.min(3_600_000, 1000 * 2 ** (attempts - 1));
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    await recordTimerFailure(db, id, this.workerId, message, new Date(engine.clock().getTime() + delay), attempts >= (this.o.maxAttempts ?? 10));
    this.o.log?.('timer failed', { id, attempts, message });
  }

  /** Polls until stopped; a full batch is followed at once by the next. */
  start(): void {
    if (this.loop) return;
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        let claimed = 0;
        try {
          await this.heartbeat.tick();
          const r = await this.runOnce();
          // A busy case is retried after the idle pause, not in a tight loop.
          claimed = r.busy ? 0 : r.claimed;
        } catch (err) {
          this.o.log?.('timer poll failed', { message: err instanceof Error ? err.message : String(err) });
        }
        if (claimed < (this.o.batchSize ?? 100) && !this.stopped) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, this.o.idleMs ?? 1000);
            this.wake = () => (clearTimeout(t), resolve());
          });
        }
      }
    })();
  }

  /** Ends the loop after the timer being fired; claimed timers not fired yet are released (runOnce). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const running = this.loop !== null;
    await this.loop;
    this.loop = null;
    if (running) await this.heartbeat.stop();
  }
}
