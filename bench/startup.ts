/**
 * Start-up: `npm start` → first served request (GET /healthz answered 200), on a warm machine
 * (bundle and workbench already built, the database migrated), in PostgreSQL mode; next to
 * `node dist/server/main.js` alone (without npm and prestart) and the old TypeScript-loader
 * start (`node --import tsx src/main.ts`), and the embedded (PGlite) mode's second start.
 *
 *   BENCH_STARTS (default 5; small: 3 of npm start, 1 of each other variant)  starts per variant (median printed)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ensureServerBuild } from '../scripts/build-server.ts';
import { ensureWebBuild } from '../scripts/build-web.ts';
import { TEST_DATA_KEYS } from '../src/services.ts';
import { benchUrl, freshBenchDatabase, median, steps } from './support.ts';
import { figure } from './summary.ts';
import { freePort } from '../scripts/freePort.ts';

const SMALL = process.env.BENCH_SCALE === 'small';
const STARTS = Number(process.env.BENCH_STARTS ?? (SMALL ? 3 : 5));
// Small mode starts the other variants (node alone, the TypeScript loader, the embedded mode) once each.
const REFERENCE_STARTS = Number(process.env.BENCH_STARTS ?? (SMALL ? 1 : 5));
const MAIN = path.join(path.resolve(import.meta.dirname, '..'), 'dist/server/main.js');

export interface Service {
  child: ChildProcess;
  port: number;
  url: string;
  /** ms from spawn to the first 200 of GET /healthz. */
  readyMs: number;
  /** The node process serving (for npm start: npm's grandchild), for RSS. */
  servingPid(): number;
  stop(): Promise<void>;
}


function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => (req.destroy(), resolve(false)));
  });
}

/** The process listening on `port` below `root` (npm → sh → node). */
function listenerPid(root: number): number {
  const children = (pid: number): number[] => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  let pid = root;
  for (;;) {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (/dist\/server\/main\.js|src\/main\.ts/.test(cmd) && !/\bnpm\b/.test(cmd.split('\0')[1] ?? '')) return pid;
    const next = children(pid);
    if (!next.length) return pid;
    pid = next[0];
  }
}

/** Resident set size in MB of a process (VmRSS). */
export function rssMb(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/**
 * Spawns the service (`command` with `args`, in its own process group) and waits for its first
 * served request. `env` is merged over a quiet PostgreSQL-mode default.
 */
export async function startService(command: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Service> {
  const port = await freePort();
  const t0 = performance.now();
  const merged = { ...process.env, DATABASE_URL: benchUrl, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, PORT: String(port), LOG_LEVEL: 'warn', ...env };
  const child = spawn(command, args, {
    env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as Record<string, string>,
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${command} ${args.join(' ')} exited before serving`);
    if (await healthy(port)) break;
    if (performance.now() - t0 > 120_000) throw new Error('service did not start in 120 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - t0;
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    readyMs,
    servingPid: () => listenerPid(child.pid!),
    stop: async () => {
      if (exited) return;
      const done = new Promise((r) => child.on('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
      if (!exited) process.kill(-child.pid!, 'SIGKILL');
    },
  };
}

export interface EmbeddedFirstStart {
  /** The PGlite data directory the first start created (removed when the bench process exits). */
  dataDir: string;
  /** ms from spawn to the first served request: initdb, migrations, demo seed. */
  readyMs: number;
  /** VmRSS (MB) after `settleMs` idle. */
  idleRssMb: number;
}

let embeddedFirst: Promise<EmbeddedFirstStart> | undefined;

/**
 * The embedded (PGlite) mode's first start on a new data directory — once per bench process:
 * start-up and memory both report it (its time, its idle RSS) and both then measure next starts
 * on the directory it created, instead of each paying initdb and the seed.
 */
export function embeddedFirstStart(settleMs: number): Promise<EmbeddedFirstStart> {
  embeddedFirst ??= (async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onewindow-bench-pglite-'));
    process.once('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const first = await startService(process.execPath, [MAIN], embeddedEnv(dataDir));
    try {
      await new Promise((r) => setTimeout(r, settleMs));
      return { dataDir, readyMs: first.readyMs, idleRssMb: rssMb(first.servingPid()) };
    } finally {
      await first.stop();
    }
  })();
  return embeddedFirst;
}

/**
 * The embedded mode's environment in `dir`: no DATABASE_URL and no data keys — the service keeps
 * its generated key beside the data folder, so the data folder is `dir/pglite` and the key stays in `dir`.
 */
export const embeddedEnv = (dir: string) => ({ DATABASE_URL: undefined, ONEWINDOW_DATA_KEYS: undefined, ONEWINDOW_DATA_DIR: path.join(dir, 'pglite') });


async function measure(label: string, command: string, args: string[], env: Record<string, string | undefined> = {}, starts = STARTS): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < starts; i++) {
    const s = await startService(command, args, env);
    times.push(s.readyMs);
    await s.stop();
  }
  const m = median(times);
  console.log(`${label.padEnd(44)} ${m.toFixed(0).padStart(6)} ms median  (${times.map((t) => t.toFixed(0)).join(', ')} ms)`);
  return m;
}

export async function benchStartup(): Promise<void> {
  console.log(`\n## Start-up: spawn → first served request (GET /healthz 200), warm machine, median of ${STARTS}${REFERENCE_STARTS !== STARTS ? ` (other variants: ${REFERENCE_STARTS})` : ''}`);
  const root = path.resolve(import.meta.dirname, '..');
  // Warm: the bundle and the workbench built, the database migrated and seeded, the files in the page cache.
  const mark = steps('startup');
  await ensureServerBuild();
  await ensureWebBuild();
  const db = await freshBenchDatabase();
  await db.destroy();
  mark('builds checked, fresh database');
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] as const : ['npm', []] as const;
  figure('startup', 'npm start → first request', await measure('npm start (prestart check + node dist/server)', npm[0], [...npm[1], 'start', '--silent', '--prefix', root]), 'ms', { op: '<', value: 2000 }, `median of ${STARTS}, warm`);
  mark('npm start');
  figure('startup', 'node dist/server/main.js → first request', await measure('node dist/server/main.js', process.execPath, [MAIN], {}, REFERENCE_STARTS), 'ms');
  mark('node dist/server/main.js');
  // The TypeScript loader's start is the "before" of the start-up goal, a reference only: the
  // small run leaves it out to keep within its two minutes (BENCH_STARTS set → measured anyway).
  if (!SMALL || process.env.BENCH_STARTS) {
    figure('startup', 'tsx src/main.ts → first request (before)', await measure('node --import tsx src/main.ts (before)', process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts')], {}, REFERENCE_STARTS), 'ms');
    mark('tsx');
  }
  // Embedded: the first start creates and seeds the database; the figure is the next start.
  const first = await embeddedFirstStart(SMALL ? 1500 : 3000);
  mark('embedded first start');
  console.log(`${'embedded (PGlite) first start, creates + seeds'.padEnd(44)} ${first.readyMs.toFixed(0).padStart(6)} ms`);
  figure('startup', 'embedded (PGlite) first start', first.readyMs, 'ms', undefined, 'initdb + migrate + seed');
  figure('startup', 'embedded (PGlite) next start', await measure('embedded (PGlite) next start', process.execPath, [MAIN], embeddedEnv(first.dataDir), REFERENCE_STARTS), 'ms');
  mark('embedded next start');
}
