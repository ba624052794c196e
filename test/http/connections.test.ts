import net from 'node:net';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { defaultMaxConnections, descriptorLimit, installConnectionLimits, trustedProxyMatcher } from '../../src/http/connections.ts';
import { useTestApp } from '../support/app.ts';

/**
 * B8 of issue 13: a real listening server (port 0) with small caps. Sockets over the per-address
 * cap are closed on accept, other addresses still get answers, and slow-header sockets are
 * dropped after the headers timeout.
 */
const ctx = useTestApp();
const PER_ADDRESS = 3;
const HEADERS_TIMEOUT_MS = 300;
let server: FastifyInstance;
let port: number;
const open: net.Socket[] = [];
const TRACK = '/api/track/DB-330106001-260302-9999-1?code=AAAAAAAA';

beforeAll(async () => {
  server = await buildApp({ db: ctx.database.db, engine: ctx.engine, sessionHours: 1 });
  installConnectionLimits(server.server, { maxConnections: 50, maxPerAddress: PER_ADDRESS, headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 2_000 });
  await server.listen({ host: '127.0.0.1', port: 0 });
  port = (server.server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const s of open) s.destroy();
  await server?.close();
});

/** A connected socket from `localAddress`, and a promise of its closing (with the time it took). */
function connect(localAddress: string): Promise<{ socket: net.Socket; closed: Promise<number>; received: () => string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let data = '';
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    open.push(socket);
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - started)));
    socket.on('data', (d) => (data += d));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed, received: () => data }));
    socket.once('error', reject);
  });
}

/** The JSON body of a raw HTTP answer, checked against its Content-Length. */
function bodyOf(raw: string): unknown {
  const [head, body] = raw.split('\r\n\r\n');
  expect(Number(/content-length: (\d+)/i.exec(head)?.[1])).toBe(Buffer.byteLength(body));
  return JSON.parse(body);
}

function get(localAddress: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: url, localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject);
  });
}

describe('connection caps', () => {
  it('closes the connection over the per-address cap; another address still gets answers', async () => {
    const held = [];
    for (let i = 0; i < PER_ADDRESS; i++) {
      const c = await connect('127.0.0.1');
      c.socket.write('GET /api/procedures HTTP/1.1\r\nHost: x\r\n'); // headers never finished
      held.push(c);
    }
    const extra = await connect('127.0.0.1');
    await extra.closed; // closed by the server, having sent nothing
    expect(extra.received()).toBe('');
    expect(await get('127.0.0.2', TRACK)).toBe(404); // answered (by the database): unknown reference
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
  });

  it('drops slow-header sockets after the headers timeout, freeing the address', async () => {
    const slow = await connect('127.0.0.3');
    slow.socket.write('GET /api/procedures HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const after = await slow.closed;
    expect(after).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(after).toBeLessThan(HEADERS_TIMEOUT_MS + 1_000);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(bodyOf(slow.received())).toEqual({ code: 'REQUEST_TIMEOUT', message: '请求超时，请重试' });
    // The address's slots are free again.
    expect(await get('127.0.0.3', TRACK)).toBe(404);
  });

  it("answers a request HTTP cannot parse in the API's error shape, in Chinese", async () => {
    const bad = await connect('127.0.0.4');
    bad.socket.write('GET /api/procedures HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    await bad.closed;
    expect(bad.received()).toMatch(/^HTTP\/1\.1 400/);
    expect(bodyOf(bad.received())).toEqual({ code: 'BAD_REQUEST', message: '请求格式有误' });
    const huge = await connect('127.0.0.4');
    huge.socket.write(`GET /api/procedures HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await huge.closed;
    expect(huge.received()).toMatch(/^HTTP\/1\.1 431/);
    expect(bodyOf(huge.received())).toEqual({ code: 'HEADERS_TOO_LARGE', message: '请求头过大' });
  });
});

describe('defaults', () => {
  it('stay below the descriptor limit read from /proc/self/limits', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'limits-'));
    const file = path.join(dir, 'limits');
    fs.writeFileSync(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n');
    expect(descriptorLimit(file)).toBe(20_000);
    expect(defaultMaxConnections(20_000)).toBe(16_000);
    expect(defaultMaxConnections(1024)).toBe(768);
    expect(descriptorLimit(path.join(dir, 'missing'))).toBeUndefined();
    expect(defaultMaxConnections(undefined)).toBeLessThan(1024);
    if (process.platform === 'linux') expect(defaultMaxConnections(descriptorLimit())).toBeLessThan(descriptorLimit()!);
  });

  it('exempt only trusted proxies from the per-address cap', () => {
    const trusted = trustedProxyMatcher(['10.0.0.5', '10.1.0.0/16', 'loopback']);
    expect(['10.0.0.5', '10.1.200.3', '127.0.0.9', '::1'].map(trusted)).toEqual([true, true, true, true]);
    expect(['10.0.0.6', '203.0.113.1', 'garbage'].map(trusted)).toEqual([false, false, false]);
    expect(trustedProxyMatcher(false)('10.0.0.5')).toBe(false);
  });
});
