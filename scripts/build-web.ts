import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Builds the workbench (web/ → web/dist) with Vite when the build is missing or older than its
 * sources. `npm start` runs it first (prestart), so README's `npm install` + `npm start` serve
 * the UI; the browser tests run it too, so they never test a stale build.
 */

const root = path.resolve(import.meta.dirname, '..');
export const WEB_DIR = path.join(root, 'web');
export const WEB_DIST = path.join(WEB_DIR, 'dist');
const SOURCES = ['src', 'index.html', 'vite.config.ts', 'public'].map((p) => path.join(WEB_DIR, p));

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

export function webBuildIsFresh(): boolean {
  const index = path.join(WEB_DIST, 'index.html');
  return fs.existsSync(index) && fs.statSync(index).mtimeMs >= newestSource();
}

/** Runs `vite build`; resolves with its output (the size table) or rejects with it. */
export function buildWeb(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, 'node_modules/.bin/vite'), ['build', '--config', path.join(WEB_DIR, 'vite.config.ts')], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`vite build failed (${code}):\n${out}`))));
  });
}

export async function ensureWebBuild(log: (line: string) => void = () => {}): Promise<void> {
  if (webBuildIsFresh()) return;
  log('building the workbench (web/ → web/dist)…');
  log(await buildWeb());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const force = process.argv.includes('--force');
  try {
    if (force) console.log(await buildWeb());
    else await ensureWebBuild(console.log);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
