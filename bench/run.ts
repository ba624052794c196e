/**
 * npm run bench — against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test);
 * creates and drops its own database `onewindow_bench_<pid>` (BENCH_DB to name it; BENCH_REUSE=1 keeps it),
 * each part's a copy of one migrated and seeded template `<BENCH_DB>_template` (always dropped at the end).
 * BENCH_SCALE=small: the same parts and figures at small sizes; BENCH_STEPS=1: each step's wall time.
 * BENCH_ONLY=transitions|timers|tracking|deep-json|queries|graphile|startup|memory|scaleout (comma-separated) runs only those parts.
 *
 * At the end it prints every figure the parts recorded (bench/summary.ts) with its target, each
 * part's wall time and the total, and writes the same to bench-results/latest.md (git-ignored)
 * so docs/benchmarks.md can be refreshed from one run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeMachine, dropBenchDatabase, dropBenchTemplate } from './support.ts';
import { figure, summaryTable } from './summary.ts';

const parts: Array<[string, () => Promise<unknown>]> = [
  ['transitions', async () => (await import('./transitions.ts')).benchTransitions()],
  ['timers', async () => (await import('./timers.ts')).benchTimers()],
  ['tracking', async () => (await import('./tracking.ts')).benchTracking()],
  ['deep-json', async () => (await import('./deepJson.ts')).benchDeepJson()],
  ['queries', async () => (await import('./queries.ts')).benchQueries()],
  ['graphile', async () => (await import('./graphile.ts')).benchGraphile()],
  ['startup', async () => (await import('./startup.ts')).benchStartup()],
  ['memory', async () => (await import('./memory.ts')).benchMemory()],
  ['scaleout', async () => (await import('./scaleout.ts')).benchScaleout()],
];

const started = new Date();
const t0 = performance.now();
const machine = await describeMachine();
console.log(machine);
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const walls: Array<{ part: string; seconds: number; failed?: string }> = [];
for (const [name, run] of parts) {
  if (only && !only.includes(name)) continue;
  const p0 = performance.now();
  try {
    await run();
    walls.push({ part: name, seconds: (performance.now() - p0) / 1000 });
  } catch (err) {
    // One part failing should not lose the others' figures: report it and go on.
    const message = (err as Error).stack ?? String(err);
    console.error(`\n${name} FAILED: ${message}`);
    walls.push({ part: name, seconds: (performance.now() - p0) / 1000, failed: (err as Error).message });
  }
}
// BENCH_REUSE keeps a generated database (the million takes minutes to make) for the next run.
if (!process.env.BENCH_REUSE) await dropBenchDatabase();
else await dropBenchTemplate();
const total = (performance.now() - t0) / 1000;
figure('run', `total wall time${process.env.BENCH_SCALE === 'small' ? ' (small)' : ''}`, total, 's', process.env.BENCH_SCALE === 'small' && !only ? { op: '<', value: 120 } : undefined);

const wallTable = ['| part | wall time |', '|---|---|', ...walls.map((w) => `| ${w.part} | ${w.seconds.toFixed(1)} s${w.failed ? ` — **failed**: ${w.failed.replace(/\|/g, '/').slice(0, 200)}` : ''} |`), `| total | ${total.toFixed(1)} s |`].join('\n');
const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');
const report = [
  `# npm run bench — ${started.toISOString()}`,
  '',
  `${machine}; BENCH_SCALE=${process.env.BENCH_SCALE ?? 'full'}${only ? `; BENCH_ONLY=${only.join(',')}` : ''}; load average at the end ${load}`,
  '',
  '## Summary',
  '',
  summaryTable(),
  '',
  '## Wall time per part',
  '',
  wallTable,
  '',
].join('\n');
console.log(`\n## Summary\n\n${summaryTable()}\n\n${wallTable}`);
const out = path.resolve(import.meta.dirname, '..', 'bench-results');
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'latest.md'), report);
console.log(`\nwritten to bench-results/latest.md`);
if (walls.some((w) => w.failed)) process.exitCode = 1;
// Everything is written. Whatever a part left open (a pool's idle connection times out after 10 s)
// would only hold the process up: the small run's two minutes are the user's wait, not the parts'.
if (process.env.BENCH_STEPS === '1') console.log(`left open at exit: ${process.getActiveResourcesInfo().join(', ') || 'nothing'}`);
process.exit(process.exitCode ?? 0);
