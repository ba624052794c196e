import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Lifecycle } from './http/routes/health.ts';

/** A worker loop: stop() ends it after the item in hand and hands back what it claimed but did not do. */
export interface Stoppable {
  stop(): Promise<void>;
}

export interface ShutdownParts {
  /** The HTTP service; absent in a worker process. */
  app?: FastifyInstance;
  /** Marked draining first, so /readyz turns 503 while in-flight requests finish. */
  lifecycle?: Lifecycle;
  /** Timer worker, notice dispatcher, any later loop. */
  loops: Stoppable[];
  /** Closed last, once nothing uses it. */
  db: Knex;
  /** Past this, give up waiting (the caller exits non-zero); leases return the rest. */
  timeoutMs: number;
  log?: (msg: string, extra?: object) => void;
}

/**
 * Graceful shutdown (SIGTERM), in order:
 *   1. readiness answers 503 (balancers stop routing here);
 *   2. the server stops accepting connections and closes idle keep-alive ones, while requests in
 *      flight run to their answer (Fastify's close), and — at the same time — every loop stops
 *      after its current item and releases what it had leased but not fired or sent, so another
 *      process takes it at once instead of after the lease;
 *   3. the pool closes.
 * 'timeout' when 2 did not finish in time: the pool is closed anyway, and whatever was left
 * leased comes back when its lease runs out (at-least-once delivery is unchanged).
 */
export async function gracefulShutdown(parts: ShutdownParts): Promise<'clean' | 'timeout'> {
  const started = Date.now();
  if (parts.lifecycle) parts.lifecycle.draining = true;
  let timer: NodeJS.Timeout | undefined;
  // A keep-alive connection busy when close began turns idle once its answer is out; Node
  // closes only the connections idle at close(), and Fastify keeps idle ones 72 s: reap them.
  const reaper = parts.app ? setInterval(() => parts.app!.server.closeIdleConnections?.(), 50) : undefined;
  reaper?.unref();
  const work = Promise.all([parts.app?.close(), ...parts.loops.map((l) => l.stop())]).then(() => 'clean' as const);
  const outcome = await Promise.race([
    work,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), parts.timeoutMs);
      timer.unref();
    }),
  ]).catch((err) => {
    parts.log?.('shutdown step failed', { message: err instanceof Error ? err.message : String(err) });
    return 'timeout' as const;
  });
  clearTimeout(timer);
  clearInterval(reaper);
  await parts.db.destroy().catch(() => {});
  parts.log?.(outcome === 'clean' ? 'shut down' : 'shut down before everything finished', { ms: Date.now() - started });
  return outcome;
}
