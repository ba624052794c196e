// The start of `npm start` and `npm run worker`, in plain JavaScript so that a warm start pays no
// TypeScript loader: checks that the server bundle (dist/server) and — unless --server-only, as
// the worker serves no workbench — the workbench (web/dist) are newer than their sources, and
// only when one is not runs scripts/build-server.ts (which rebuilds what is stale). With
// `--run main|worker` it then runs that bundle entry in this same process (source maps on, as
// `node --enable-source-maps` would): one Node start for the check and the service, not two.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');
const newest = (paths) => {
  let n = 0;
  for (const p of paths.map((x) => path.join(root, x))) {
    if (!fs.existsSync(p)) continue;
    const st = fs.statSync(p);
    if (!st.isDirectory()) n = Math.max(n, st.mtimeMs);
    else for (const e of fs.readdirSync(p, { recursive: true, withFileTypes: true })) if (e.isFile()) n = Math.max(n, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return n;
};
const oldest = (files) => Math.min(...files.map((f) => (fs.existsSync(path.join(root, f)) ? fs.statSync(path.join(root, f)).mtimeMs : 0)));
const serverOnly = process.argv.includes('--server-only');
const runIndex = process.argv.indexOf('--run');
const entry = runIndex >= 0 ? process.argv[runIndex + 1] : undefined;
if (entry !== undefined && !['main', 'worker'].includes(entry)) {
  console.error(`prestart.mjs: --run main or --run worker, not ${entry}`);
  process.exit(2);
}
// The same source lists as scripts/build-server.ts and scripts/build-web.ts.
const serverFresh = oldest(['dist/server/main.js', 'dist/server/worker.js']) >= newest(['src', 'workflows', 'migrations', 'package.json', 'scripts/build-server.ts']);
const webFresh = serverOnly || oldest(['web/dist/index.html']) >= newest(['web/src', 'web/index.html', 'web/vite.config.ts', 'web/public']);
if (!serverFresh || !webFresh) {
  const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'scripts/build-server.ts'), ...(serverOnly ? ['--server-only'] : [])], { stdio: 'inherit' });
  if (r.status !== 0 || entry === undefined) process.exit(r.status ?? 1);
}
if (entry !== undefined) {
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(path.join(root, 'dist/server', `${entry}.js`)).href);
}
