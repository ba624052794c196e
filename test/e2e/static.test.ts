import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { UI_CSP } from '../../src/http/static.ts';
import { useTestApp } from '../support/app.ts';

// Serving the workbench beside the API: history-mode fallback, the API's own 404 under /api and
// /docs, a CSP for the UI, long caching only for hashed assets, and no rate limit on files.

const ctx = useTestApp();
let app: FastifyInstance;
let root: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ow-web-'));
  fs.mkdirSync(path.join(root, 'assets'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>一窗通办</title><div id="app"></div>');
  fs.writeFileSync(path.join(root, 'assets/index-abc123.js'), 'console.log(1)');
  fs.writeFileSync(path.join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  app = await buildApp({ db: ctx.database.db, engine: ctx.engine, sessionHours: 1, webRoot: root });
});
afterAll(async () => {
  await app?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the workbench at /', () => {
  it('serves index.html for the UI routes, with the UI CSP and no caching of the page', async () => {
    for (const url of ['/', '/login', '/window/receipt/1b4e28ba-2fa1-11d2-883f-0016d3cca427', '/track?ref=DB-330106001-260302-0001-7']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(res.body, url).toContain('<div id="app">');
      expect(res.headers['content-security-policy'], url).toBe(UI_CSP);
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
    }
    expect(UI_CSP).toContain("script-src 'self'");
    expect(UI_CSP).not.toContain('unsafe-inline');
  });

  it('serves hashed assets as immutable and answers a missing file with 404, not the page', async () => {
    const js = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toMatch(/immutable/);
    expect((await app.inject({ method: 'GET', url: '/favicon.svg' })).statusCode).toBe(200);
    const missing = await app.inject({ method: 'GET', url: '/assets/index-gone.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('ROUTE_NOT_FOUND');
    expect((await app.inject({ method: 'GET', url: '/../package.json' })).body).not.toContain('"dependencies"');
  });

  it('leaves /api and /docs to the API: unknown paths get its 404, real ones their JSON', async () => {
    for (const url of ['/api/nothing', '/api/nothing/deeper', '/docs/nothing']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
      expect(res.headers['content-security-policy'], url).not.toBe(UI_CSP);
    }
    expect((await app.inject({ method: 'GET', url: '/api/auth/me' })).json().code).toBe('UNAUTHENTICATED');
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });

  it('does not count page loads against the anonymous rate limit', async () => {
    // Login's budget is 20 requests a minute per address; a page and its assets are not requests to it.
    for (let i = 0; i < 40; i++) expect((await app.inject({ method: 'GET', url: '/assets/index-abc123.js' })).statusCode).toBe(200);
  });

  it('serves the API only when no build exists', async () => {
    const bare = await buildApp({ db: ctx.database.db, engine: ctx.engine, sessionHours: 1, webRoot: path.join(root, 'missing') });
    try {
      expect((await bare.inject({ method: 'GET', url: '/login' })).json().code).toBe('ROUTE_NOT_FOUND');
    } finally {
      await bare.close();
    }
  });
});
