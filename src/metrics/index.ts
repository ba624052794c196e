import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DomainError } from '../engine/errors.ts';
import type { TransitionNote } from '../engine/engine.ts';
import { snapshotOf, type OperationalSnapshot } from './snapshot.ts';
import { clusterExposition } from '../cluster.ts';

/**
 * The service's Prometheus metrics (docs/operations.md lists them). One registry per Metrics —
 * never prom-client's global default — so that every app a test builds has its own counts.
 *
 * Counters and the latency histogram count what this process saw; the gauges that describe the
 * whole deployment (open tasks, timer lag, outbox backlog, worker heartbeats) are read from the
 * database at scrape time with a few bounded queries, cached for `cacheMs`, so any service
 * process answers the same and a scrape every few seconds costs the database little.
 */
export interface Metrics {
  readonly registry: Registry;
  /** The engine's onTransition hook (createEngine in src/services.ts). */
  readonly onTransition: (t: TransitionNote) => void;
  /** Reads deployment-wide gauges from this database at scrape time; and the pool's numbers. */
  bindDatabase(db: Knex, clock: () => Date): void;
  /** Counts a request refused by load shedding (src/http/hardening.ts). */
  overloaded(type: string): void;
  /** Hooks of the app: latency by route, login failures, rate-limit refusals. */
  readonly http: HttpMetrics;
  /** The Prometheus text of GET /metrics: this registry, or in a cluster all service processes' together. */
  exposition(): Promise<string>;
}

/** Metric names, shared with the Grafana dashboard (docs/operations/grafana-dashboard.json). */
export const METRIC = {
  httpDuration: 'onewindow_http_request_duration_seconds',
  transitions: 'onewindow_transitions_total',
  openTasks: 'onewindow_open_tasks',
  timerLag: 'onewindow_timer_lag_seconds',
  timerBacklog: 'onewindow_timer_backlog',
  outboxBacklog: 'onewindow_outbox_backlog',
  outboxOldest: 'onewindow_outbox_oldest_age_seconds',
  outboxFailures: 'onewindow_outbox_failures',
  workerHeartbeatAge: 'onewindow_worker_heartbeat_age_seconds',
  dbPool: 'onewindow_db_pool_connections',
  loginFailures: 'onewindow_login_failures_total',
  rateLimited: 'onewindow_rate_limit_refusals_total',
  overloaded: 'onewindow_overload_refusals_total',
  scrapeErrors: 'onewindow_metrics_scrape_errors_total',
} as const;

/** Login refusals counted as failures: a wrong password, a disabled account, a locked address. */
const LOGIN_FAILURES = new Set(['INVALID_CREDENTIALS', 'ACCOUNT_DISABLED', 'TEMPORARILY_LOCKED', 'RATE_LIMITED']);

export function createMetrics(options: { cacheMs?: number; processMetrics?: boolean; clustered?: boolean } = {}): Metrics {
  const registry = new Registry();
  // Heap, event-loop lag, CPU, file descriptors of this process, as onewindow_process_*/nodejs_*.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'onewindow_' });

  const httpDuration = new Histogram({
    name: METRIC.httpDuration,
    help: 'HTTP request latency by route pattern (never the raw URL), method and status class',
    labelNames: ['method', 'route', 'status_class'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const transitions = new Counter({
    name: METRIC.transitions,
    help: 'Committed case transitions by procedure and event (CASE_OPENED for a new case)',
    labelNames: ['procedure', 'event'],
    registers: [registry],
  });
  const loginFailures = new Counter({ name: METRIC.loginFailures, help: 'Refused logins by reason (error code)', labelNames: ['reason'], registers: [registry] });
  const rateLimited = new Counter({ name: METRIC.rateLimited, help: 'Requests refused by a rate limit or lockout (429), by code and route pattern', labelNames: ['code', 'route'], registers: [registry] });
  const overloaded = new Counter({ name: METRIC.overloaded, help: 'Requests shed under load (503 OVERLOADED) by the check that tripped', labelNames: ['type'], registers: [registry] });
  const scrapeErrors = new Counter({ name: METRIC.scrapeErrors, help: 'Scrapes whose database-derived gauges could not be read', registers: [registry] });

  let db: Knex | null = null;
  let clock: () => Date = () => new Date();
  const cacheMs = options.cacheMs ?? 5_000;
  let cached: { at: number; value: Promise<OperationalSnapshot | null> } | null = null;
  // One read per cacheMs, shared by every gauge of a scrape and by concurrent scrapes.
  const snapshot = (): Promise<OperationalSnapshot | null> => {
    const now = Date.now();
    if (!db) return Promise.resolve(null);
    if (!cached || now - cached.at >= cacheMs) {
      const value = snapshotOf(db, clock()).catch(() => {
        scrapeErrors.inc();
        cached = null;
        return null;
      });
      cached = { at: now, value };
    }
    return cached.value;
  };

  const dbGauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: OperationalSnapshot) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      // In a cluster every process reads the same database: the figure once, not summed.
      aggregator: 'max',
      async collect() {
        const s = await snapshot();
        // Labels that vanished (a department without open tasks) must not linger at their last value.
        this.reset();
        if (s) fill(this, s);
      },
    });

  dbGauge(METRIC.openTasks, 'Open (open or claimed) tasks by department and escalation level', ['department', 'escalation'], (g, s) => {
    for (const r of s.openTasks) g.set({ department: r.department, escalation: r.escalation }, r.count);
  });
  dbGauge(METRIC.timerLag, 'Now minus the due time of the oldest pending due timer (0 when none is due)', [], (g, s) => g.set(s.timerLagSeconds));
  dbGauge(METRIC.timerBacklog, 'Pending timers already due (counted up to 100000)', [], (g, s) => g.set(s.timerBacklog));
  dbGauge(METRIC.outboxBacklog, 'Outbox rows not yet taken by their consumer, by kind (counted up to 100000)', ['kind'], (g, s) => {
    for (const r of s.outboxBacklog) g.set({ kind: r.kind }, r.count);
  });
  dbGauge(METRIC.outboxOldest, 'Age of the oldest outbox row not yet taken (0 when none)', [], (g, s) => g.set(s.outboxOldestSeconds));
  dbGauge(METRIC.outboxFailures, 'Effects that failed: retrying (failed at least once) or dead (given up), by kind', ['kind', 'state'], (g, s) => {
    for (const r of s.outboxFailures) g.set({ kind: r.kind, state: r.state }, r.count);
  });
  dbGauge(METRIC.workerHeartbeatAge, 'Seconds since the newest heartbeat of each worker kind (timers, notices)', ['kind'], (g, s) => {
    for (const r of s.heartbeats) g.set({ kind: r.kind }, r.ageSeconds);
  });
  new Gauge({
    name: METRIC.dbPool,
    help: 'The database pool: used, free, pending (acquires waiting) and max connections (summed over the service processes of a cluster)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const pool = (db?.client as { pool?: TarnPool } | undefined)?.pool;
      if (!pool) return;
      this.set({ state: 'used' }, pool.numUsed());
      this.set({ state: 'free' }, pool.numFree());
      this.set({ state: 'pending' }, pool.numPendingAcquires());
      this.set({ state: 'max' }, pool.max);
    },
  });

  const http: HttpMetrics = {
    observe(method, route, statusCode, seconds) {
      httpDuration.observe({ method, route, status_class: `${Math.floor(statusCode / 100)}xx` }, seconds);
    },
    refused(route, err) {
      if (!(err instanceof DomainError)) return;
      if (route === '/api/auth/login' && LOGIN_FAILURES.has(err.code)) loginFailures.inc({ reason: err.code });
      if (err.kind === 'too_many') rateLimited.inc({ code: err.code, route });
    },
  };

  return {
    registry,
    http,
    onTransition: (t) => transitions.inc({ procedure: t.procedureId, event: t.event }),
    bindDatabase(d, c) {
      db = d;
      clock = c;
      cached = null;
    },
    overloaded: (type) => overloaded.inc({ type }),
    exposition: options.clustered ? clusterExposition(registry) : () => registry.metrics(),
  };
}

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  max: number;
}

export interface HttpMetrics {
  observe(method: string, route: string, statusCode: number, seconds: number): void;
  /** A refusal: counted as a login failure (login route) or a rate-limit refusal (429). */
  refused(route: string, err: unknown): void;
}

/** The route label: the pattern Fastify matched, never the raw URL (ids, codes, personal data). */
export function routeLabel(request: { routeOptions: { url?: string }; is404: boolean }): string {
  return request.is404 || !request.routeOptions.url ? '(unmatched)' : request.routeOptions.url;
}

/** Latency of every request and the refusals worth counting, as hooks of the app. */
export function installHttpMetrics(app: FastifyInstance, http: HttpMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    http.observe(request.method, routeLabel(request), reply.statusCode, reply.elapsedTime / 1000);
  });
  app.addHook('onError', async (request, _reply, err) => {
    http.refused(routeLabel(request), err);
  });
}
