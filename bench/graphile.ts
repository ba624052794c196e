/**
 * graphile-worker (npm, dev dependency) running no-op jobs on the bench's own database: a
 * reference for the queue mechanics alone — claim, run nothing, mark done — next to the timer
 * worker, whose every firing is also a whole engine command (lock the case, check the chart,
 * append a hash-chained event, escalate the task, finish the timer).
 *
 *   BENCH_GRAPHILE_JOBS (default 100000, small 3000)
 *   BENCH_GRAPHILE_CONCURRENCY (default 10)
 */
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { benchUrl, freshBenchDatabase } from './support.ts';
import { figure } from './summary.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
const JOBS = Number(process.env.BENCH_GRAPHILE_JOBS ?? (SMALL ? 3000 : 100_000));
const CONCURRENCY = Number(process.env.BENCH_GRAPHILE_CONCURRENCY ?? 10);

const quiet = new Logger(() => () => {});

async function phase(label: string, preset: object | undefined): Promise<number> {
  // A pool of our own, ended here: one graphile-worker made from a connection string could still
  // hold an idle connection when the next part dropped its database (WITH (FORCE)), and that
  // connection's error, with no listener on graphile's pool, ended the whole bench.
  const pool = new pg.Pool({ connectionString: benchUrl, max: CONCURRENCY + 2 });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const utils = await makeWorkerUtils({ pgPool: pool, logger: quiet });
  try {
    await utils.migrate();
    const t0 = performance.now();
    for (let i = 0; i < JOBS; i += 5000) {
      await utils.addJobs(Array.from({ length: Math.min(5000, JOBS - i) }, () => ({ identifier: 'noop', payload: {} })));
    }
    const added = (performance.now() - t0) / 1000;
    let done = 0;
    let finish!: () => void;
    const all = new Promise<void>((r) => (finish = r));
    const t1 = performance.now();
    const runner = await run({
      pgPool: pool,
      concurrency: CONCURRENCY,
      noHandleSignals: true,
      pollInterval: 100,
      logger: quiet,
      taskList: { noop: async () => {} },
      ...(preset ? { preset } : {}),
    });
    runner.events.on('job:success', () => {
      if (++done === JOBS) finish();
    });
    await all;
    const seconds = (performance.now() - t1) / 1000;
    await runner.stop();
    const rate = JOBS / seconds;
    figure('graphile', `graphile-worker ${label}`, rate, 'jobs/s', undefined, `${JOBS} no-op jobs, concurrency ${CONCURRENCY}`);
    console.log(`graphile-worker ${label.padEnd(30)} ${rate.toFixed(0).padStart(6)} jobs/s  (${JOBS} no-op jobs in ${seconds.toFixed(1)} s, concurrency ${CONCURRENCY}; adding them took ${added.toFixed(1)} s)`);
    return rate;
  } finally {
    await utils.release();
    await pool.end();
  }
}

export async function benchGraphile(): Promise<void> {
  console.log(`\n## graphile-worker reference: ${JOBS} no-op jobs on the bench database`);
  const db = await freshBenchDatabase();
  await db.destroy();
  await phase('(one job per fetch)', undefined);
  // Since 0.16 a local queue fetches jobs in batches, as the timer worker claims timers.
  await phase('(local queue, batches of 200)', { worker: { localQueue: { size: 200 } } });
}
