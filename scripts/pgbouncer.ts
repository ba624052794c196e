/**
 * A throw-away PgBouncer in transaction mode in front of one database, for the test and the bench
 * that run the service behind it (DB_POOLER=transaction, docs/scaling.md §3). Debian's pgbouncer
 * (`.ci/run` installs it); it refuses to run as root, so as root it runs as `postgres`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './freePort.ts';
import { APP_ROLE } from '../migrations/20261123_003_trust.ts';

export const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => fs.existsSync(p));

/**
 * The service's login behind a transaction pooler, as docs/scaling.md §3 tells a DBA to create
 * it: a member of onewindow_app (inheriting its rights, nothing more) with the timeouts on the
 * role; `timeouts: false` leaves them off (a login the service must refuse).
 */
export function serviceLoginStatements(role: string, options: { timeouts?: boolean } = {}): string[] {
  return [
    `create role ${role} login in role ${APP_ROLE}`,
    ...(options.timeouts === false
      ? []
      : [`alter role ${role} set statement_timeout = '10s'`, `alter role ${role} set lock_timeout = '1s'`, `alter role ${role} set idle_in_transaction_session_timeout = '15s'`]),
  ];
}

export interface PgBouncer {
  port: number;
  /** `url` (a database URL of the upstream server) with its host and port pointed at PgBouncer, as `user`. */
  urlFor(url: string, user: string): string;
  stop(): Promise<void>;
}


/** Starts PgBouncer for `database` on the server of `upstreamUrl`; `users` may log in (trust). */
export async function startPgBouncer(options: { upstreamUrl: string; database: string; users: string[]; poolSize: number }): Promise<PgBouncer> {
  if (!PGBOUNCER) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const server = new URL(options.upstreamUrl);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ow-pgbouncer-'));
  fs.chmodSync(dir, 0o755); // read by the postgres user when we are root
  const users = path.join(dir, 'users.txt');
  fs.writeFileSync(users, options.users.map((u) => `"${u}" ""`).join('\n') + '\n', { mode: 0o644 });
  const ini = path.join(dir, 'pgbouncer.ini');
  fs.writeFileSync(
    ini,
    [
      '[databases]',
      `${options.database} = host=${server.hostname} port=${server.port || 5432} dbname=${options.database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${users}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize}`,
      'max_client_conn = 500',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const child: ChildProcess = process.getuid?.() === 0 ? spawn('runuser', ['-u', 'postgres', '--', PGBOUNCER, ini]) : spawn(PGBOUNCER, [ini]);
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i >= 100) {
      await stop();
      throw new Error(`pgbouncer did not start on ${port}: ${log}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    urlFor(url, user) {
      const u = new URL(url);
      u.username = user;
      u.password = '';
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    stop,
  };
}
