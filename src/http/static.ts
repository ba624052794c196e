import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { COMMON_HEADERS } from './hardening.ts';

/**
 * The workbench (web/dist, built by `npm run build`) at `/`, same origin as the API.
 *
 * Registered beside the API plugin, not inside it: the API's hooks would demand a session on
 * every file, or (marked public) count each script against login's per-address budget. The API's
 * 404 still answers here: GETs under /api and /docs that match no route are handed to it.
 */

/** The UI needs its own scripts, styles and API calls only; QR codes are data: images. */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DEFAULT_WEB_ROOT = path.resolve(import.meta.dirname, '../../web/dist');

export interface WorkbenchOptions {
  /** The built UI (index.html and assets/). */
  root: string;
}

/** Paths of every file under `root`, relative with forward slashes. */
function listFiles(root: string): Set<string> {
  const files = new Set<string>();
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.add(path.relative(root, full).split(path.sep).join('/'));
  }
  return files;
}

export const workbench: FastifyPluginAsync<WorkbenchOptions> = async (app, { root }) => {
  if (!fs.existsSync(path.join(root, 'index.html'))) {
    app.log.warn({ root }, 'workbench not built (npm run build): serving the API only');
    return;
  }
  const files = listFiles(root);
  await app.register(fastifyStatic, { root, serve: false });

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const file = (request.params as { '*': string })['*'];
    if (file === 'api' || file.startsWith('api/') || file === 'docs' || file.startsWith('docs/')) return reply.callNotFound();
    // Set here, not in a hook: a path handed to the API's 404 keeps the API's headers.
    const ui = () => reply.headers(COMMON_HEADERS).header('content-security-policy', UI_CSP);
    if (files.has(file) && file !== 'index.html') {
      // Vite names assets by content hash: they never change under their name.
      const hashed = file.startsWith('assets/');
      return ui().sendFile(file, { maxAge: hashed ? '365d' : '1h', immutable: hashed });
    }
    // A missing script or image is a 404, not the page (a browser would parse HTML as JS).
    if (/\.[a-z0-9]+$/i.test(file)) return reply.callNotFound();
    // History-mode routes (/login, /window, /track?ref=…) all load the one page.
    return ui().header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  });
};
