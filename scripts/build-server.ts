import fs from 'node:fs';
import path from 'node:path';
import { ensureWebBuild } from './build-web.ts';

/**
 * Bundles the service and the worker (src/main.ts, src/worker.ts → dist/server/*.js) with
 * esbuild, packages left external, when the bundle is missing or older than its sources; then
 * builds the workbench the same way (build-web.ts). `npm start` and `npm run worker` run it first
 * when scripts/prestart.mjs finds the bundle stale, so production runs plain `node` — no
 * TypeScript loader compiling hundreds of modules at start-up.
 *
 * Paths survive bundling: the bundle sits two levels below the root like src/http/static.ts, so
 * its `../../web/dist` still finds the workbench; the migration that reads
 * `new URL('./data/…', import.meta.url)` finds migrations/data copied next to the bundle.
 */

const root = path.resolve(import.meta.dirname, '..');
export const SERVER_DIST = path.join(root, 'dist/server');
export const ENTRIES = ['src/main.ts', 'src/worker.ts'];
const SOURCES = ['src', 'workflows', 'migrations', 'package.json', 'scripts/build-server.ts'].map((p) => path.join(root, p));

function newestSource(): number {
  let newest = 0;
  for (const p of SOURCES) {
    if (!fs.existsSync(p)) continue;
    const stat = fs.statSync(p);
    if (!stat.isDirectory()) {
      newest = Math.max(newest, stat.mtimeMs);
      continue;
    }
    for (const e of fs.readdirSync(p, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
    }
  }
  return newest;
}

export function serverBuildIsFresh(): boolean {
  const outputs = ENTRIES.map((e) => path.join(SERVER_DIST, `${path.basename(e, '.ts')}.js`));
  if (!outputs.every((o) => fs.existsSync(o))) return false;
  const oldest = Math.min(...outputs.map((o) => fs.statSync(o).mtimeMs));
  return oldest >= newestSource();
}

export async function buildServer(): Promise<void> {
  // Model-check every chart now, so the bundle need not at each start (src/services.ts): the
  // bundle carries exactly these charts, and a broken one fails the build instead.
  const [{ validateAll }, { loadedDefinitions }] = await Promise.all([import('../src/engine/model.ts'), import('../workflows/index.ts')]);
  validateAll(loadedDefinitions);
  const { build } = await import('esbuild');
  fs.rmSync(SERVER_DIST, { recursive: true, force: true });
  await build({
    entryPoints: ENTRIES.map((e) => path.join(root, e)),
    outdir: SERVER_DIST,
    bundle: true,
    // Shared modules in chunks: main and worker load the engine and workflows once each, not twice on disk.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // node_modules stay where npm put them (PGlite finds its wasm, knex its dialects).
    packages: 'external',
    sourcemap: true,
    define: { __MODEL_CHECKED_AT_BUILD__: 'true' },
    logLevel: 'warning',
  });
  fs.cpSync(path.join(root, 'migrations/data'), path.join(SERVER_DIST, 'data'), { recursive: true });
}

export async function ensureServerBuild(log: (line: string) => void = () => {}): Promise<void> {
  if (serverBuildIsFresh()) return;
  log('bundling the service (src/ → dist/server)…');
  await buildServer();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const force = process.argv.includes('--force');
  try {
    if (force) await buildServer();
    else await ensureServerBuild(console.log);
    // The workbench too, so a stale start needs one build process.
    if (!process.argv.includes('--server-only')) await ensureWebBuild(console.log);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
