import type { Knex } from 'knex';
import * as heartbeats from '../db/workerHeartbeats.ts';

/** How often a loop records that it is alive; readiness calls a loop stale after HEARTBEAT_STALE_MS. */
export const HEARTBEAT_EVERY_MS = 10_000;
export const HEARTBEAT_STALE_MS = 60_000;

/** The loops that beat; READY_WORKERS names some of them (config.ts). */
export const WORKER_KINDS = ['timers', 'notices'] as const;
export type WorkerKind = (typeof WORKER_KINDS)[number];

/**
 * The heartbeat of one worker loop (timers, notices, any later loop): `tick()` on every
 * iteration writes at most one row update per HEARTBEAT_EVERY_MS, `stop()` removes the row. A
 * failed write is reported, never thrown — a heartbeat must not stop the work it reports on.
 */
export class Heartbeat {
  private last = -Infinity;

  constructor(
    private readonly db: Knex,
    readonly workerId: string,
    readonly kind: WorkerKind,
    private readonly clock: () => Date = () => new Date(),
    private readonly everyMs = HEARTBEAT_EVERY_MS,
  ) {}

  async tick(): Promise<void> {
    const now = this.clock();
    if (now.getTime() - this.last < this.everyMs && now.getTime() >= this.last) return;
    this.last = now.getTime();
    try {
      await heartbeats.beat(this.db, this.workerId, this.kind, now);
      // Rows of loops that died without stopping: kept a day for the curious, then dropped.
      if (Math.random() < 0.01) await heartbeats.pruneBefore(this.db, new Date(now.getTime() - 86_400_000));
    } catch {
      this.last = -Infinity; // try again on the next iteration
    }
  }

  async stop(): Promise<void> {
    this.last = -Infinity;
    await heartbeats.removeBeat(this.db, this.workerId).catch(() => {});
  }
}
