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
  /** Called after a claim, before firing — a fault-injection hook for crash tests. */
  afterClaim?: (ids: string[]) => void;
  log?: (msg: string, extra?: object) => void;
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
 * Each timer fires through the engine like any other command, inside its own savepoint.
 */
export class TimerWorker {
  readonly workerId: string;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Read by /readyz of every service process (worker_heartbeats). */
  readonly heartbeat: Heartbeat;

  constructor(private readonly o: TimerWorkerOptions) {
    this.workerId = o.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.heartbeat = new Heartbeat(o.db, this.workerId, 'timers', o.engine.clock);
  }

  async runOnce(): Promise<BatchResult> {
    const { db, engine } = this.o;
    const now = engine.clock();
    // Housekeeping rides along: idempotency keys are kept for IDEMPOTENCY_TTL_MS.
    await purgeKeysBefore(db, new Date(now.getTime() - IDEMPOTENCY_TTL_MS));
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
    // One transaction per batch, one savepoint per timer: a commit (and its fsync) is shared by
    // the batch, while a timer that fails rolls back alone and is retried later.
    const failures: Array<[string, unknown]> = [];
    const busyCases = new Set<string>();
    const deferred: string[] = [];
    try {
      await db.transaction(async (trx) => {
        for (const { id, caseId } of claimed) {
          // Once a case was busy, its later timers wait too: within a case they fire in due order.
          // Shutting down: what is not fired yet is handed back below, for another worker at once.
          if (busyCases.has(caseId) || this.stopped) {
            deferred.push(id);
            continue;
          }
          try {
            result[await trx.transaction((sp) => engine.fireTimer(sp, id, this.workerId))]++;
          } catch (err) {
            if (err instanceof DomainError && err.code === 'CASE_BUSY') {
              busyCases.add(caseId);
              deferred.push(id);
            } else failures.push([id, err]);
          }
        }
      });
    } catch (err) {
      // The batch did not commit, or its outcome is unknown (connection cut): hand every timer
      // back rather than let them wait out the lease. Best effort — the lease is the fallback.
      await releaseTimers(db, ids, this.workerId).catch(() => {});
      throw err;
    }
    result.busy = deferred.length;
    await releaseTimers(db, deferred, this.workerId);
    for (const [id, err] of failures) {
      result.failed++;
      await this.recordFailure(id, err);
    }
    return result;
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
