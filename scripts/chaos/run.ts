import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { connect, migrateToLatest } from '../../src/db/connection.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { DEMO_PASSWORD, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { ServiceProcess, freePort } from './service.ts';
import { verifyRun, type Verification } from './verify.ts';
import { loginAll, newStats, rng, runClient, type Command, type Stats, type WorkloadContext } from './workload.ts';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** The service's fixed "now": due dates stay inside the loaded 2026 calendar whatever day the run is on. */
const NOW = new Date('2026-06-01T02:00:00Z');

export interface ChaosOptions {
  /** Admin connection (creates and drops the run's database). */
  adminUrl: string;
  clients: number;
  kills: number;
  /** Length of the load phase. */
  seconds: number;
  seed: number;
  /** Cut the service's database connections once mid-load. */
  cut: boolean;
  /** Keep the database afterwards (its name is in the report). */
  keep: boolean;
  log: (line: string) => void;
}

export interface Recovery {
  /** kill -9 (or connection cut) instant, seconds into the load phase. */
  at: number;
  /** Until the restarted service answered ready (kills only). */
  readyMs?: number;
  /** Until the first command sent after the fault was acknowledged. */
  firstAckMs: number | null;
  /** Until every client still working had a command sent after the fault acknowledged. */
  allClientsMs: number | null;
  /** Commands in flight at the moment of the fault. */
  inFlight: number;
}

export interface ChaosReport {
  database: string;
  options: Omit<ChaosOptions, 'log' | 'adminUrl'>;
  stats: Stats;
  loadSeconds: number;
  throughput: number;
  kills: Recovery[];
  cut: (Recovery & { terminated: number; serviceRestarted: boolean; refusals: number; refusalStatuses: Record<string, number> }) | null;
  unanswered: number;
  unexpectedExits: ServiceProcess['unexpectedExits'];
  verification: Verification;
  /** Timer and payment leases of killed starts (and back-offs) that the run let expire before the final drain. */
  expiredLeases: number;
  /** Every command sent, with its answer (for re-checking a kept database). */
  commands: Command[];
  /** Connection string of the run's database (dropped unless keep). */
  databaseUrl: string;
  /** Everything that must be zero/empty for the run to pass. */
  failures: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number | null | undefined) => (ms === null || ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)} s`);

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * The crash test: a fresh database, the real service as a child process, `clients` concurrent
 * clients driving 低保 cases to payment, `kills` kill -9s at seeded random moments (each followed
 * by a restart), one cut of every database connection, then verification of what was acknowledged.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log;
  const database = `ow_chaos_${randomBytes(5).toString('hex')}`;
  const url = withDatabase(options.adminUrl, database);
  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  await admin.query(`create database ${database}`);
  let service: ServiceProcess | null = null;
  const cleanups: Array<() => void> = [];
  const batchDir = await fs.mkdtemp(path.join(os.tmpdir(), `${database}-batches-`));
  cleanups.push(() => void fs.rm(batchDir, { recursive: true, force: true }));
  try {
    const owner = connect({ kind: 'postgres', url, poolMax: 2 });
    await migrateToLatest(owner);
    await seedDemo(owner);
    await owner.destroy();
    log(`database ${database} migrated and seeded`);

    service = new ServiceProcess({
      databaseUrl: url,
      port: await freePort(),
      logDir: path.join(os.tmpdir(), database),
      // Payments go to batch files of this run (src/payments): verified below, line by line.
      env: { ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, ONEWINDOW_NOW: NOW.toISOString(), LOG_LEVEL: 'warn', PAYMENT_BATCH_DIR: batchDir },
    });
    const svc = service;
    // Whatever ends this process (an uncaught error, Ctrl-C), the service must not outlive it.
    const orphan = () => svc.child?.kill('SIGKILL');
    process.once('exit', orphan);
    cleanups.push(() => process.off('exit', orphan));
    svc.start();
    await svc.waitReady(undefined, 120_000);
    const tokens = await loginAll(svc.baseUrl, DEMO_PASSWORD);
    await svc.waitReady(tokens.get('supervisor.xihu'));
    log(`service up on ${svc.baseUrl} (pid ${svc.pid}); ${options.clients} clients for ${options.seconds} s, ${options.kills} kills${options.cut ? ', one connection cut' : ''}`);

    const stats = newStats();
    const commands: Command[] = [];
    let stopping = false;
    let giveUpAt = Infinity;
    // Faults waiting for the first acknowledgement of a command sent after them.
    const waiting: Array<{ at: number; resolve: (ms: number) => void }> = [];
    const everyone: Array<{ at: number; left: Set<number>; resolve: (ms: number) => void }> = [];
    const activeClients = new Set<number>(Array.from({ length: options.clients }, (_, i) => i));
    let cutWindow: { from: number; to: number; statuses: Record<string, number> } | null = null;
    const ctx: WorkloadContext = {
      baseUrl: () => svc.baseUrl,
      tokens,
      stats,
      commands,
      stopping: () => stopping,
      giveUpAt: () => giveUpAt,
      onAck(sentAt, answeredAt, client) {
        for (let i = waiting.length - 1; i >= 0; i--) {
          if (sentAt >= waiting[i].at) {
            waiting[i].resolve(answeredAt - waiting[i].at);
            waiting.splice(i, 1);
          }
        }
        for (let i = everyone.length - 1; i >= 0; i--) {
          const w = everyone[i];
          if (sentAt < w.at) continue;
          w.left.delete(client);
          if ([...w.left].every((c) => !activeClients.has(c))) {
            w.resolve(answeredAt - w.at);
            everyone.splice(i, 1);
          }
        }
      },
      onAnswer(_sentAt, answeredAt, status) {
        // 409 conflicts are the workload's own races; 5xx (503 with Retry-After) are what the cut causes.
        if (cutWindow && answeredAt >= cutWindow.from && answeredAt <= cutWindow.to && status >= 500) {
          cutWindow.statuses[status] = (cutWindow.statuses[status] ?? 0) + 1;
        }
      },
    };
    const firstAckAfter = (at: number, timeoutMs: number) =>
      new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), timeoutMs);
        waiting.push({ at, resolve: (ms) => (clearTimeout(timer), resolve(ms)) });
      });
    const allAckAfter = (at: number, timeoutMs: number) =>
      new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), timeoutMs);
        everyone.push({ at, left: new Set(activeClients), resolve: (ms) => (clearTimeout(timer), resolve(ms)) });
      });

    const t0 = performance.now();
    // A client that throws (a bug in the workload, an answer it cannot read) stops, and the run fails.
    const clientErrors: string[] = [];
    const clients = Array.from({ length: options.clients }, (_, i) =>
      runClient(ctx, i, options.seed)
        .catch((err) => void clientErrors.push(`client ${i}: ${(err as Error).stack ?? err}`))
        .finally(() => activeClients.delete(i)),
    );

    // The chaos monkey: kill moments spread over the run with seeded jitter; the cut between two kills.
    const monkey = rng(options.seed);
    const slot = (options.seconds * 1000) / (options.kills + 1);
    const faults: Array<{ kind: 'kill' | 'cut'; at: number }> = [];
    for (let k = 1; k <= options.kills; k++) faults.push({ kind: 'kill', at: slot * k + (monkey() - 0.5) * 0.6 * slot });
    if (options.cut) faults.push({ kind: 'cut', at: slot * (Math.floor(options.kills / 2) + 0.5) + (monkey() - 0.5) * 0.3 * slot });
    faults.sort((a, b) => a.at - b.at);

    // With a fixed clock no deadline falls due by itself; so that the in-process timer worker fires
    // under the kills too, warning timers already due are added to live tasks every few seconds
    // (each must fire exactly once, or be cancelled if its task closed first).
    const injectedTimers: string[] = [];
    const deadlines = (async () => {
      const random = rng(options.seed + 1);
      while (!stopping) {
        await sleep(3_000);
        if (stopping) break;
        const c = new pg.Client({ connectionString: url });
        try {
          await c.connect();
          const { rows } = await c.query(
            `insert into timers (case_id, task_id, state_id, kind, event_type, due_at, created_at)
             select t.case_id, t.id, t.state_id, 'warn', 'DEADLINE_WARNING', $1::timestamptz - interval '1 minute', $1
             from tasks t where t.status in ('open', 'claimed') and t.state_id not like 'service.%'
             order by md5(t.id::text || $2) limit 4 returning id`,
            [NOW, String(random())],
          );
          injectedTimers.push(...rows.map((r: any) => String(r.id)));
        } catch {
          // the connection cut or a restart may catch this client too: next round
        } finally {
          await c.end().catch(() => {});
        }
      }
    })();

    const kills: Recovery[] = [];
    let cut: ChaosReport['cut'] = null;
    for (const fault of faults) {
      const wait = t0 + fault.at - performance.now();
      if (wait > 0) await sleep(wait);
      const openNow = commands.filter((c) => c.status === undefined && !c.unanswered).length;
      if (fault.kind === 'kill') {
        const at = performance.now();
        const pending = firstAckAfter(at, 120_000);
        const all = allAckAfter(at, 120_000);
        await svc.kill9();
        svc.start();
        const readyMs = await svc.waitReady(tokens.get('supervisor.xihu'), 120_000).then(() => performance.now() - at);
        const firstAckMs = await pending;
        const allClientsMs = await all;
        kills.push({ at: (at - t0) / 1000, readyMs, firstAckMs, allClientsMs, inFlight: openNow });
        log(`kill -9 #${kills.length} at ${((at - t0) / 1000).toFixed(1)} s (${openNow} commands in flight): ready again after ${secs(readyMs)}, first acknowledged command after ${secs(firstAckMs)}, every client after ${secs(allClientsMs)}`);
      } else {
        const pid = svc.pid;
        const at = performance.now();
        const pending = firstAckAfter(at, 60_000);
        const all = allAckAfter(at, 60_000);
        // Non-2xx answers within 5 s of the cut: what clients saw of it.
        cutWindow = { from: at, to: at + 5_000, statuses: {} };
        const { rows } = await admin.query(`select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [database]);
        const firstAckMs = await pending;
        const allClientsMs = await all;
        const statuses = cutWindow.statuses;
        cut = {
          at: (at - t0) / 1000,
          firstAckMs,
          allClientsMs,
          inFlight: openNow,
          terminated: rows[0].n,
          serviceRestarted: svc.pid !== pid || svc.unexpectedExits.length > 0,
          refusals: Object.values(statuses).reduce((a, b) => a + b, 0),
          refusalStatuses: statuses,
        };
        log(`connection cut at ${cut.at.toFixed(1)} s: ${cut.terminated} backends terminated, first acknowledged command after ${secs(firstAckMs)}, every client after ${secs(allClientsMs)}, service ${cut.serviceRestarted ? 'RESTARTED' : 'not restarted'}`);
      }
    }
    const remaining = t0 + options.seconds * 1000 - performance.now();
    if (remaining > 0) await sleep(remaining);
    stopping = true;
    if (cut) cut.refusals = Object.values(cut.refusalStatuses).reduce((a, b) => a + b, 0);
    const loadSeconds = (performance.now() - t0) / 1000;
    // Clients finish the command in hand; anything still unanswered after the grace period is given up.
    giveUpAt = performance.now() + 60_000;
    await Promise.all(clients);
    await deadlines;
    // Let the worker drain the due timers (bounded). Leases and retry back-offs are measured on
    // the service's clock, which is fixed here, so a lease held by a killed start (or the back-off
    // after a firing the connection cut failed) would never run out: end those as time would
    // (after WORKER_LEASE_MS) and let the running worker take them over.
    const drain = connect({ kind: 'postgres', url, poolMax: 1 });
    const expiredLeases = await drain('timers')
      .where({ status: 'pending' })
      .andWhere('locked_until', '>', NOW)
      .andWhere((q) => q.where('locked_by', 'not like', `%:${svc.pid}:%`).orWhereNotNull('last_error'))
      .update({ locked_until: new Date(NOW.getTime() - 1) });
    // The same for payments: a killed deliverer's lease, or a back-off after a failed attempt.
    const expiredPaymentLeases = await drain('payments')
      .where({ status: 'requested' })
      .andWhere((q) => q.where('locked_until', '>', NOW).orWhere('next_attempt_at', '>', NOW))
      .andWhere((q) => q.whereNull('locked_by').orWhere('locked_by', 'not like', `%:${svc.pid}:%`).orWhereNotNull('last_error'))
      .update({ locked_until: new Date(NOW.getTime() - 1), next_attempt_at: NOW });
    for (const until = performance.now() + 30_000; performance.now() < until; await sleep(250)) {
      const [{ n }] = await drain('timers').where({ status: 'pending' }).andWhere('due_at', '<=', NOW).count({ n: '*' });
      const [{ p }] = await drain('payments').where({ status: 'requested' }).count({ p: '*' });
      const [{ o }] = await drain('outbox').where({ kind: 'payment.requested' }).whereNull('processed_at').count({ o: '*' });
      const [{ b }] = await drain('payment_batches as pb').whereRaw('coalesce(pb.rendered_line_id, 0) < (select max(l.id) from payment_batch_lines l where l.batch_id = pb.id)').count({ b: '*' });
      if (Number(n) + Number(p) + Number(o) + Number(b) === 0) break;
    }
    await drain.destroy();
    log(`load stopped after ${loadSeconds.toFixed(1)} s; verifying`);

    const verifier = connect({ kind: 'postgres', url, poolMax: 4 });
    let verification: Verification;
    try {
      verification = await verifyRun(verifier, PersonalDataCipher.fromSpec(TEST_DATA_KEYS), commands, { baseUrl: svc.baseUrl, token: tokens.get('supervisor.xihu')! }, injectedTimers, batchDir);
    } finally {
      await verifier.destroy();
    }
    await svc.stop();

    const unanswered = commands.filter((c) => c.unanswered).length;
    const failures = [
      ...verification.lost.map((l) => `LOST: ${l}`),
      ...verification.duplicated.map((d) => `DUPLICATED: ${d}`),
      ...verification.violations.map((v) => `VIOLATION: ${v}`),
      ...stats.unexpected.map((u) => `UNEXPECTED ANSWER to command ${u.n}: ${u.status} ${u.body}`),
      ...svc.unexpectedExits.map((e) => `SERVICE EXITED on its own (start ${e.start}): code ${e.code} signal ${e.signal}`),
      ...(kills.length !== options.kills ? [`only ${kills.length} of ${options.kills} kills happened`] : []),
      ...kills.filter((k) => k.allClientsMs === null).map((k) => `not every client recovered after the kill at ${k.at.toFixed(1)} s`),
      ...(options.cut && (!cut || cut.allClientsMs === null) ? ['the service did not recover from the connection cut (every client acknowledged again within 60 s)'] : []),
      ...(cut?.serviceRestarted ? ['the service restarted after the connection cut'] : []),
      ...(stats.acked === 0 ? ['no command was acknowledged at all'] : []),
      ...(unanswered ? [`${unanswered} commands never got an answer`] : []),
      ...clientErrors.map((e) => `CLIENT FAILED: ${e}`),
    ];
    return {
      database,
      options: { clients: options.clients, kills: options.kills, seconds: options.seconds, seed: options.seed, cut: options.cut, keep: options.keep },
      stats,
      loadSeconds,
      throughput: stats.acked / loadSeconds,
      kills,
      cut,
      unanswered,
      unexpectedExits: svc.unexpectedExits,
      verification,
      expiredLeases: expiredLeases + expiredPaymentLeases,
      commands,
      databaseUrl: url,
      failures,
    };
  } finally {
    await service?.stop().catch(() => {});
    for (const c of cleanups) c();
    if (!options.keep) await admin.query(`drop database if exists ${database} with (force)`).catch(() => {});
    await admin.end();
  }
}

/** The report as a person reads it. */
export function formatReport(r: ChaosReport): string {
  const s = r.stats;
  const v = r.verification;
  const lines = [
    `chaos run: ${r.options.clients} clients, ${r.options.kills} kills, ${r.options.seconds} s, seed ${r.options.seed} (database ${r.database}${r.options.keep ? ', kept' : ', dropped'})`,
    `commands: ${s.sent} sent, ${s.acked} acknowledged, ${s.attempts} HTTP attempts; retried with the same key: ${s.retriedNoAnswer} after no answer, ${s.retriedRefused} after 503/CASE_BUSY; ${s.replays} answered by replay`,
    `version conflicts (re-read, re-decided): ${s.conflicts}; double-payment probes: ${s.doublePayProbes} sent, ${s.doublePayRefused} refused`,
    `cases: ${s.casesOpened} opened, ${s.casesFinished} driven to the end; throughput ${r.throughput.toFixed(1)} acknowledged commands/s over ${r.loadSeconds.toFixed(1)} s (kills included)`,
    ...r.kills.map((k, i) => `kill -9 #${i + 1} at ${k.at.toFixed(1)} s, ${k.inFlight} in flight: ready after ${secs(k.readyMs)}, first ack after ${secs(k.firstAckMs)}, every client after ${secs(k.allClientsMs)}`),
    r.cut
      ? `connection cut at ${r.cut.at.toFixed(1)} s: ${r.cut.terminated} backends terminated, ${r.cut.inFlight} in flight, first ack after ${secs(r.cut.firstAckMs)}, every client after ${secs(r.cut.allClientsMs)}, ${r.cut.refusals} 5xx answers within 5 s ${JSON.stringify(r.cut.refusalStatuses)}, service restarted: ${r.cut.serviceRestarted ? 'YES' : 'no'}`
      : 'connection cut: not done',
    `verified: ${v.cases} cases, ${v.events} events (${v.userEvents} sent by users, system: ${JSON.stringify(v.systemEvents)}), ${v.payments} payments (${v.batchLines} batch-file lines), ${v.liveTasks} live tasks, ${v.pendingTimers} pending timers; due timers added ${v.timers.injected}: ${v.timers.fired} fired once each, ${v.timers.cancelled} cancelled (task closed first), ${r.expiredLeases} leases of killed starts or back-offs expired; notices: ${v.notices.written} written, ${v.notices.taken} taken, ${v.notices.sent} sent, ${v.notices.sinkMessages} sink messages`,
    `lost: ${v.lost.length}; duplicated: ${v.duplicated.length}; other violations: ${v.violations.length}; unexpected answers: ${s.unexpected.length}; unanswered: ${r.unanswered}`,
    r.failures.length ? `FAILED (${r.failures.length}):\n  ${r.failures.slice(0, 30).join('\n  ')}` : 'PASSED: every acknowledged command is present exactly once; no double payment; audit chains, tasks and timers consistent',
  ];
  return lines.join('\n');
}
