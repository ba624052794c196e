/**
 * Resident memory (VmRSS) of the compiled service (dist/server/main.js, timer worker inside):
 * PostgreSQL mode idle and under inbox load (clients reading a reviewer's inbox and the
 * supervisor board), at 10k cases and again after growing the database; then the embedded
 * (PGlite) mode idle on its second start.
 *
 *   BENCH_MEMORY_CASES (default 1000000, small 20000)  cases of the larger database
 *   BENCH_MEMORY_SECONDS (default 15, small 2)         inbox load per phase
 *
 * Idle RSS is read after 3 s (small: 1.5 s). The embedded mode's first start is shared with the
 * start-up part (embeddedFirstStart): whichever runs first pays initdb and the seed.
 */
import path from 'node:path';
import { ensureServerBuild } from '../scripts/build-server.ts';
import { DEMO_PASSWORD } from '../src/seed.ts';
import { freshBenchDatabase, growDatabase, openCases, steps } from './support.ts';
import { embeddedEnv, embeddedFirstStart, rssMb, startService, type Service } from './startup.ts';
import { figure } from './summary.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
const LARGE = Number(process.env.BENCH_MEMORY_CASES ?? (SMALL ? 20_000 : 1_000_000));
const SECONDS = Number(process.env.BENCH_MEMORY_SECONDS ?? (SMALL ? 2 : 15));
const SETTLE_MS = SMALL ? 1500 : 3000;
// Cases opened through the engine (real tasks and events to copy) before the SQL growth to 10k.
const OPENED = SMALL ? 50 : 200;
const CLIENTS = 8;
const ROOT = path.resolve(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist/server/main.js');

// Goal 4: the PostgreSQL-mode service under 300 MB idle and under inbox load.
const UNDER_300 = { op: '<' as const, value: 300 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function token(url: string, username: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: DEMO_PASSWORD }) });
  return ((await res.json()) as { token: string }).token;
}

/** Idle RSS after settling, then peak and final RSS under inbox + board load. */
async function measure(label: string, s: Service, target?: { op: '<'; value: number }): Promise<void> {
  const pid = s.servingPid();
  await sleep(SETTLE_MS);
  const idle = rssMb(pid);
  const [clerk, supervisor] = await Promise.all([token(s.url, 'clerk.beishan'), token(s.url, 'supervisor.xihu')]);
  let peak = idle;
  let requests = 0;
  let errors = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      while (performance.now() < deadline) {
        // Six inbox pages to one board view, as reviewers outnumber supervisors.
        const board = i === 0 && requests % 7 === 0;
        const res = await fetch(`${s.url}${board ? '/api/supervision' : '/api/tasks?limit=50'}`, { headers: { authorization: `Bearer ${board ? supervisor : clerk}` } });
        await res.arrayBuffer();
        requests++;
        if (res.status !== 200) errors++;
      }
    }),
  );
  clearInterval(sampler);
  const after = rssMb(pid);
  figure('memory', `${label}: idle RSS`, idle, 'MB', target);
  figure('memory', `${label}: peak RSS under inbox load`, peak, 'MB', target, `${(requests / SECONDS).toFixed(0)} req/s, ${errors} errors`);
  console.log(`${label.padEnd(34)} idle ${idle.toFixed(0).padStart(4)} MB   under inbox load peak ${peak.toFixed(0).padStart(4)} MB, after ${after.toFixed(0).padStart(4)} MB  (${(requests / SECONDS).toFixed(0)} requests/s, ${errors} errors)`);
}

export async function benchMemory(): Promise<void> {
  console.log(`\n## Memory: RSS of the compiled service, PostgreSQL mode at 10k and ${LARGE} cases (${CLIENTS} clients on inbox and board, ${SECONDS} s), embedded mode`);
  const mark = steps('memory');
  await ensureServerBuild();
  const db = await freshBenchDatabase();
  try {
    mark('fresh database');
    await openCases(db, OPENED);
    // Small mode skips VACUUM and CHECKPOINT after each growth: RSS does not depend on them.
    await growDatabase(10_000 - OPENED, { settle: !SMALL });
    mark('grown to 10k');
    let s = await startService(process.execPath, [MAIN]);
    await measure('PostgreSQL, 10k cases', s, UNDER_300);
    await s.stop();
    mark('measured at 10k');
    const grown = await growDatabase(LARGE - 10_000, { settle: !SMALL });
    mark(`grown to ${grown.cases}`);
    s = await startService(process.execPath, [MAIN]);
    await measure(`PostgreSQL, ${grown.cases} cases`, s, UNDER_300);
    await s.stop();
    mark(`measured at ${grown.cases}`);
  } finally {
    await db.destroy();
  }
  const first = await embeddedFirstStart(SETTLE_MS);
  mark('embedded first start');
  figure('memory', 'embedded (PGlite) first start: idle RSS', first.idleRssMb, 'MB', undefined, 'initdb + seed');
  console.log(`embedded (PGlite) first start (initdb + seed): ${first.idleRssMb.toFixed(0)} MB idle`);
  const s = await startService(process.execPath, [MAIN], embeddedEnv(first.dataDir));
  try {
    await measure('embedded (PGlite), demo data', s);
  } finally {
    await s.stop();
  }
  mark('embedded measured');
}
