import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Knex } from 'knex';
import { z } from 'zod';
import { migrationSource } from '../../../migrations/index.ts';
import { latestByKind } from '../../db/workerHeartbeats.ts';
import { DomainError } from '../../engine/errors.ts';
import { HEARTBEAT_STALE_MS } from '../../worker/heartbeat.ts';
import { refusals } from '../schemas.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Probes and scrapes (/healthz, /readyz, /metrics): no session, no anonymous throttle and no
     * load shedding — an orchestrator must be able to ask an overloaded process how it is.
     */
    probe?: boolean;
  }
}

/** What /readyz checks besides the database and its migrations (docs/operations.md). */
export interface ReadinessOptions {
  /** Worker kinds (`timers`, `notices`) that must have beaten within `heartbeatStaleMs`; none by default. */
  workers?: string[];
  heartbeatStaleMs?: number;
  /** Longest wait for the database's answer before calling it unreachable. */
  dbTimeoutMs?: number;
  /** Bearer token that opens GET /metrics from outside loopback; unset → loopback only. */
  metricsToken?: string;
}

/** Shared by main.ts's shutdown: once draining, /readyz answers 503 so balancers stop sending. */
export interface Lifecycle {
  draining: boolean;
}

const reason = z.object({ reason: z.string().describe('Stable code: DATABASE_UNREACHABLE, MIGRATIONS_PENDING, WORKER_STALE, OVERLOADED, SHUTTING_DOWN'), message: z.string().describe('zh-CN') });

const readinessReport = z
  .object({
    ready: z.boolean(),
    checkedAt: z.string().describe('ISO instant of the check'),
    database: z.object({ ok: z.boolean(), latencyMs: z.number().nullable().describe('Round trip of `select 1`; null when unreachable') }),
    migrations: z.object({
      ok: z.boolean(),
      applied: z.number().int().nullable().describe('Migrations recorded in the database; null when it could not be read'),
      pending: z.array(z.string()).describe('Migrations this build has that the database lacks'),
    }),
    workers: z.object({
      ok: z.boolean(),
      required: z.array(z.string()).describe('Worker kinds this deployment expects (READY_WORKERS)'),
      kinds: z.array(
        z.object({
          kind: z.string(),
          lastBeatAt: z.string().nullable(),
          ageSeconds: z.number().nullable(),
          live: z.number().int().describe('Loops of this kind that beat within the stale limit'),
        }),
      ),
    }),
    reasons: z.array(reason).describe('Why not ready; empty when ready'),
  })
  .meta({ id: 'ReadinessReport' });

type Report = z.infer<typeof readinessReport>;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Everything /readyz reports; exported for tests and for a worker's own checks. */
export async function readiness(db: Knex, now: Date, o: ReadinessOptions, extra: Report['reasons'] = []): Promise<Report> {
  const required = o.workers ?? [];
  const staleMs = o.heartbeatStaleMs ?? HEARTBEAT_STALE_MS;
  const timeoutMs = o.dbTimeoutMs ?? 2_000;
  const report: Report = {
    ready: false,
    checkedAt: now.toISOString(),
    database: { ok: false, latencyMs: null },
    migrations: { ok: false, applied: null, pending: [] },
    workers: { ok: required.length === 0, required, kinds: [] },
    reasons: [...extra],
  };
  const started = performance.now();
  try {
    await withTimeout(db.raw('select 1'), timeoutMs);
    report.database = { ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch {
    report.reasons.push({ reason: 'DATABASE_UNREACHABLE', message: `数据库在 ${timeoutMs} 毫秒内无应答` });
  }
  if (report.database.ok) {
    try {
      const [expected, appliedRows] = await withTimeout(Promise.all([migrationSource.getMigrations([]), db('knex_migrations').select('name')]), timeoutMs);
      const applied = new Set(appliedRows.map((r: { name: string }) => r.name));
      const pending = expected.filter((m) => !applied.has(m));
      report.migrations = { ok: pending.length === 0, applied: applied.size, pending };
      if (pending.length) report.reasons.push({ reason: 'MIGRATIONS_PENDING', message: `数据库迁移未完成：${pending.join('、')}` });
    } catch {
      report.reasons.push({ reason: 'MIGRATIONS_PENDING', message: '无法读取数据库迁移记录' });
    }
    try {
      const beats = await withTimeout(latestByKind(db, new Date(now.getTime() - staleMs)), timeoutMs);
      report.workers.kinds = [...beats].sort(([a], [b]) => a.localeCompare(b)).map(([kind, b]) => ({ kind, lastBeatAt: b.beatAt.toISOString(), ageSeconds: Math.max(0, (now.getTime() - b.beatAt.getTime()) / 1000), live: b.live }));
      const stale = required.filter((k) => !(beats.get(k)?.live));
      report.workers.ok = stale.length === 0;
      for (const k of stale) {
        const last = beats.get(k)?.beatAt;
        report.reasons.push({ reason: 'WORKER_STALE', message: last ? `后台任务 ${k} 的心跳已 ${Math.round((now.getTime() - last.getTime()) / 1000)} 秒未更新` : `没有正在运行的后台任务 ${k}` });
      }
    } catch {
      report.workers.ok = false;
      report.reasons.push({ reason: 'WORKER_STALE', message: '无法读取后台任务心跳' });
    }
  }
  report.ready = report.reasons.length === 0;
  return report;
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;
const digest = (s: string) => createHash('sha256').update(s).digest();

/** GET /metrics: anyone on loopback; elsewhere only with METRICS_TOKEN as a bearer token. */
function mayScrape(request: FastifyRequest, token: string | undefined): boolean {
  // request.ip is the client behind a trusted proxy (TRUST_PROXY), so a proxy on this host does
  // not make every outside scrape look local.
  if (LOOPBACK.test(request.ip)) return true;
  const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return Boolean(token && m && timingSafeEqual(digest(m[1]), digest(token)));
}

const routes: FastifyPluginAsyncZod = async (app) => {
  const probe = { public: true, probe: true };
  // Polled every few seconds: only warnings (not ready, refused scrapes) reach the log.
  const quiet = { logLevel: 'warn' as const };

  app.get(
    '/healthz',
    {
      ...quiet,
      config: probe,
      schema: {
        operationId: 'getHealth',
        tags: ['operations'],
        summary: '存活检查（进程在运行）',
        description: 'Liveness: answers 200 while the process runs and its event loop turns. Touches no database and is never shed under load. Who: anyone (public, not rate-limited).',
        security: [],
        response: { 200: z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }).meta({ id: 'Health' }) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }),
  );

  app.get(
    '/readyz',
    {
      ...quiet,
      config: probe,
      schema: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: '就绪检查（数据库、迁移、后台任务心跳）',
        description:
          'Readiness: 200 with the report when the database answers within a short timeout, every migration of this build is applied, and each worker kind the deployment expects (READY_WORKERS) has beaten recently; otherwise 503 NOT_READY whose `details` is the same ReadinessReport with `reasons`. Also 503 while the process is shutting down or shedding load. Who: anyone (public, not rate-limited).',
        security: [],
        response: { 200: readinessReport, ...refusals('NOT_READY') },
      },
    },
    async (request) => {
      const { db, engine, readiness: options, lifecycle } = app.deps;
      const extra: Report['reasons'] = [];
      if (lifecycle?.draining) extra.push({ reason: 'SHUTTING_DOWN', message: '服务正在停止' });
      if (typeof app.isUnderPressure === 'function' && app.isUnderPressure()) extra.push({ reason: 'OVERLOADED', message: '服务繁忙（负载过高）' });
      const report = await readiness(db, engine.clock(), options ?? {}, extra);
      if (!report.ready) {
        request.log.warn({ reasons: report.reasons.map((r) => r.reason) }, 'not ready');
        throw new DomainError('unavailable', 'NOT_READY', `服务尚未就绪：${report.reasons.map((r) => r.message).join('；')}`, report);
      }
      return report;
    },
  );

  app.get(
    '/metrics',
    {
      ...quiet,
      config: probe,
      schema: {
        operationId: 'getMetrics',
        tags: ['operations'],
        summary: 'Prometheus 指标',
        description:
          'Prometheus text exposition (docs/operations.md lists the metrics). Open to loopback clients; from elsewhere only with `Authorization: Bearer <METRICS_TOKEN>` (without METRICS_TOKEN, loopback only). Database-derived gauges are read at scrape time and cached a few seconds. Who: the monitoring system.',
        security: [],
        response: {
          200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: z.string().describe('Metrics in the Prometheus exposition format') } } },
          ...refusals('METRICS_FORBIDDEN', 'METRICS_UNAVAILABLE'),
        },
      },
    },
    async (request, reply) => {
      if (!mayScrape(request, app.deps.readiness?.metricsToken)) {
        throw new DomainError('forbidden', 'METRICS_FORBIDDEN', '指标接口只对本机或持有 METRICS_TOKEN 的监控系统开放');
      }
      const { registry } = app.metrics;
      let text: string;
      try {
        text = await app.metrics.exposition();
      } catch (err) {
        // A cluster's primary that did not answer: the monitoring system retries, no 500.
        throw new DomainError('unavailable', 'METRICS_UNAVAILABLE', `指标暂不可用：${(err as Error).message}`);
      }
      return reply.header('content-type', registry.contentType).send(text);
    },
  );
};

export default routes;
