import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_PASSWORD, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { freePort } from '../../scripts/freePort.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// SERVICE_PROCESSES (src/cluster.ts): several service processes on one port, on PostgreSQL.
const onPostgres = Boolean(inject('databaseUrl'));
let database: TestDatabase;

beforeAll(async () => {
  if (!onPostgres) return;
  database = await createTestDatabase();
  await seedDemo(database.db);
});
afterAll(async () => database?.destroy());

interface Cluster {
  url: string;
  primary: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startCluster(processes: string, env: Record<string, string> = {}): Promise<Cluster> {
  const port = await freePort();
  const primary = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, DATABASE_URL: database.url!, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, PORT: String(port), LOG_LEVEL: 'info', WORKER: 'off', SERVICE_PROCESSES: processes, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  primary.stdout!.on('data', (d) => (out += d));
  primary.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => primary.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (primary.exitCode !== null) break;
    // Every process listens (the primary says so), not only the first.
    const all = Number(processes) === 1 || out.includes(`${processes} processes listening`);
    if ((await fetch(`${url}/healthz`).catch(() => null))?.ok && all) return { url, primary, output: () => out, exited };
    await new Promise((r) => setTimeout(r, 100));
  }
  primary.kill('SIGKILL');
  throw new Error(`cluster did not start: ${out}`);
}

/** A request on a connection of its own (no keep-alive): the primary hands each new connection to the next process. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http
      .get(url, { agent: false, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url}`)));
  });
}

/**
 * The primary's service processes (Linux /proc): its node children. Not every child: under tsx the
 * primary may also run esbuild's service process, whose pid can sort first (the test once killed
 * it instead of a service process, and then waited in vain for the supervisor to notice).
 */
function children(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  const comm = (p: number) => {
    try {
      return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((p) => comm(p) === 'node');
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

async function login(url: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'clerk.beishan', password: DEMO_PASSWORD }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

/** The sum of one histogram's counts for a route in a Prometheus exposition. */
function requestsCounted(text: string, route: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith('onewindow_http_request_duration_seconds_count{') && l.includes(`route="${route}"`))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe.skipIf(!onPostgres)('several service processes on one port (SERVICE_PROCESSES)', () => {
  it('serves from every process, counts all of them in one /metrics, replaces a process that dies and stops cleanly on SIGTERM', async () => {
    const c = await startCluster('2');
    try {
      const [first, second] = children(c.primary.pid!);
      expect(second).toBeDefined();
      const token = await login(c.url);
      // New connections go round the processes: every one of these is a new socket.
      for (let i = 0; i < 20; i++) expect((await get(`${c.url}/api/auth/me`, { authorization: `Bearer ${token}` })).status).toBe(200);
      // Each process counts its own requests; whichever answers the scrape reports all of them.
      const own = (text: string) => requestsCounted(text, '/api/auth/me');
      const scrapes = await Promise.all([0, 1, 2, 3].map(() => get(`${c.url}/metrics`).then((r) => r.body)));
      for (const text of scrapes) expect(own(text), text.slice(0, 300)).toBe(20);
      // A gauge read from the database is reported once, not once per process.
      const open = scrapes[0].split('\n').filter((l) => l.startsWith('onewindow_open_tasks{'));
      expect(open.every((l) => Number(l.slice(l.lastIndexOf(' ') + 1)) >= 0)).toBe(true);

      // A process that dies is replaced, and the port answers — from the survivor and the new one.
      // (Not in the very instant of the death: a connection the primary hands to the dying
      // process before it has seen the exit waits for the client's timeout — docs/operations.md.)
      process.kill(first, 'SIGKILL');
      let replaced: number[] = [];
      for (let i = 0; i < 100 && replaced.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        replaced = children(c.primary.pid!).filter((p) => p !== first && alive(p));
      }
      expect(replaced).toHaveLength(2);
      expect(replaced).toContain(second);
      for (let i = 0; i < 6; i++) expect((await get(`${c.url}/healthz`)).status).toBe(200);
      expect(c.output()).toContain('service process exited');

      c.primary.kill('SIGTERM');
      const stopped = await Promise.race([c.exited, new Promise((r) => setTimeout(() => r(`still running after 30 s: ${c.output().slice(-2000)}`), 30_000))]);
      expect(stopped).toBe(0);
      for (const pid of replaced) expect(alive(pid)).toBe(false);
    } finally {
      c.primary.kill('SIGKILL');
    }
  }, 120_000);

  it('stops with exit code 1 when processes keep dying (a crash loop is for the supervisor above to see)', async () => {
    const c = await startCluster('2');
    try {
      const killed = new Set<number>();
      for (let i = 0; i < 600 && c.primary.exitCode === null; i++) {
        for (const pid of children(c.primary.pid!)) {
          if (killed.has(pid) || !alive(pid)) continue;
          killed.add(pid);
          process.kill(pid, 'SIGKILL');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await c.exited).toBe(1);
      // Two at the start, then a new one per death until the sixth within the minute.
      expect(killed.size).toBeGreaterThanOrEqual(6);
      expect(c.output()).toContain('times within 60 s: stopping');
    } finally {
      c.primary.kill('SIGKILL');
    }
  }, 120_000);

  it('refuses more than one process on the embedded database, and stops when the first process cannot start', async () => {
    const refused = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, DATABASE_URL: '', SERVICE_PROCESSES: '2', PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('SERVICE_PROCESSES above 1 needs DATABASE_URL');

    // The port is taken: the first process fails to listen, the primary does not fork it again and again.
    const taken = await startCluster('1');
    try {
      const port = new URL(taken.url).port;
      const t0 = performance.now();
      const failed = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { ...process.env, DATABASE_URL: database.url!, ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, PORT: port, LOG_LEVEL: 'warn', WORKER: 'off', SERVICE_PROCESSES: '2' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(failed.status).not.toBe(0);
      expect(failed.status).not.toBeNull(); // exited by itself, not killed by the timeout
      expect(performance.now() - t0).toBeLessThan(60_000);
      expect(failed.stdout + failed.stderr).toContain('EADDRINUSE');
    } finally {
      taken.primary.kill('SIGTERM');
      await taken.exited;
    }
  }, 120_000);
});
