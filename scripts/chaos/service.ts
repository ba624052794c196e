import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The repository root (scripts/chaos/ → ../..): the service is started from there. */
export { freePort } from '../freePort.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');


export interface ServiceOptions {
  databaseUrl: string;
  port: number;
  env: Record<string, string>;
  /** Directory for each start's stdout/stderr (service-<n>.log). */
  logDir: string;
}

/**
 * The real service (src/main.ts) as a child process, started with node + tsx directly so that the
 * child's pid is the service's own: SIGKILL then kills the server, not a wrapper.
 */
export class ServiceProcess {
  child: ChildProcess | null = null;
  starts = 0;
  /** Exits nobody asked for (kill -9 by us is asked for): a crash of the service itself. */
  unexpectedExits: Array<{ start: number; code: number | null; signal: string | null }> = [];
  private expectingExit = false;

  constructor(private readonly options: ServiceOptions) {}

  get baseUrl() {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get pid() {
    return this.child?.pid;
  }

  start(): void {
    this.starts++;
    const start = this.starts;
    fs.mkdirSync(this.options.logDir, { recursive: true });
    const log = fs.openSync(path.join(this.options.logDir, `service-${start}.log`), 'w');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.options.env, DATABASE_URL: this.options.databaseUrl, PORT: String(this.options.port), HOST: '127.0.0.1' },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.expectingExit = false;
    child.on('exit', (code, signal) => {
      if (!this.expectingExit) this.unexpectedExits.push({ start, code, signal });
      if (this.child === child) this.child = null;
    });
    this.child = child;
  }

  /** kill -9: no shutdown hook runs, in-flight transactions die with their connections. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Graceful stop (SIGTERM) at the end of the run; SIGKILL if it does not finish in time. */
  async stop(timeoutMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** The last lines a start logged (for a failure message). */
  tail(start = this.starts, lines = 20): string {
    try {
      return fs.readFileSync(path.join(this.options.logDir, `service-${start}.log`), 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * Polls until the service answers as ready: GET /readyz when it exists (200), otherwise — before
   * that endpoint ships — GET /api/auth/me with a token, which reads the sessions table (so the
   * database is reachable), or without one any answer below 500 (the server listens).
   */
  async waitReady(token: string | undefined, timeoutMs = 60_000): Promise<number> {
    const t0 = performance.now();
    let readyz = true;
    while (performance.now() - t0 < timeoutMs) {
      if (!this.child) throw new Error(`service exited during start-up:\n${this.tail()}`);
      try {
        if (readyz) {
          const res = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
          await res.arrayBuffer();
          if (res.status === 200) return performance.now() - t0;
          if (res.status === 404) readyz = false;
        }
        if (!readyz) {
          const res = await fetch(`${this.baseUrl}/api/auth/me`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(2_000) });
          await res.arrayBuffer();
          if (token ? res.status === 200 : res.status < 500) return performance.now() - t0;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`service not ready after ${timeoutMs} ms:\n${this.tail()}`);
  }
}
