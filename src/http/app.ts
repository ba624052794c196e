import Fastify, { type ConnectionError, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Knex } from 'knex';
import type { Engine } from '../engine/engine.ts';
import { installAuth } from './auth.ts';
import { installErrorHandling } from './errors.ts';
import { serviceUnavailable } from '../engine/errors.ts';
import { installHardening, installOverload, type OverloadOptions } from './hardening.ts';
import { installLogBindings } from './logging.ts';
import { createMetrics, installHttpMetrics, type Metrics } from '../metrics/index.ts';
import healthRoutes, { type Lifecycle, type ReadinessOptions } from './routes/health.ts';
import { LIMITS, type Limits } from './abuse.ts';
import { swaggerOptions } from './openapi.ts';
import authRoutes from './routes/auth.ts';
import caseRoutes from './routes/cases.ts';
import caseNoticeRoutes from './routes/caseNotices.ts';
import procedureRoutes from './routes/procedures.ts';
import adminRoutes from './routes/admin.ts';
import supervisionRoutes from './routes/supervision.ts';
import reportRoutes from './routes/reports.ts';
import taskRoutes from './routes/tasks.ts';
import taskAssignmentRoutes from './routes/taskAssignment.ts';
import userRoutes from './routes/users.ts';
import noticeRoutes from './routes/notices.ts';
import definitionMigrationRoutes from './routes/definitionMigrations.ts';
import incidentRoutes from './routes/incidents.ts';
import paymentRoutes from './routes/payments.ts';
import leadRoutes from './routes/leads.ts';
import trackRoutes from './routes/track.ts';
import { prescreenRoutes, publicApplicationRoutes } from './routes/onlineApplications.ts';
import { workbench } from './static.ts';

export interface AppDeps {
  db: Knex;
  engine: Engine;
  sessionHours: number;
  /** Rate limits and lockouts (defaults: LIMITS in abuse.ts). */
  limits: Limits;
  /** The built workbench to serve at `/` (static.ts); unset: the API only. */
  webRoot?: string;
  /** Operations (docs/operations.md): the metrics registry (also the engine's onTransition); one per app when unset. */
  metrics?: Metrics;
  /** What /readyz requires besides the database; who may scrape /metrics. */
  readiness?: ReadinessOptions;
  /** Set `draining` on shutdown: /readyz answers 503 from then on. */
  lifecycle?: Lifecycle;
  /** Load shedding (hardening.ts); unset: off. */
  overload?: OverloadOptions;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
    metrics: Metrics;
  }
  interface FastifyContextConfig {
    /** Reachable without a token (login, citizen tracking). */
    public?: boolean;
  }
}

/** The whole HTTP API as one plugin: main.ts and tests register it on a bare Fastify instance. */
export const oneWindowApp: FastifyPluginAsync<AppDeps> = async (app, deps) => {
  app.decorate('deps', deps);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  installDrainRefusal(app);
  // Without one given (tests), a registry of this app's own, minus the process collectors main.ts adds.
  const metrics = deps.metrics ?? createMetrics({ processMetrics: false });
  metrics.bindDatabase(deps.db, deps.engine.clock);
  app.decorate('metrics', metrics);
  // First of all hooks: a shed request costs no authentication and no database work.
  if (deps.overload) await installOverload(app, deps.overload, metrics.overloaded);
  installHttpMetrics(app, metrics.http);
  installHardening(app);

  await app.register(swagger, swaggerOptions());
  await app.register(swaggerUi, { routePrefix: '/docs' });

  installAuth(app);
  installLogBindings(app);
  const api = app.withTypeProvider<ZodTypeProvider>();
  await api.register(authRoutes, { prefix: '/api/auth' });
  await api.register(caseRoutes, { prefix: '/api/cases' });
  await api.register(caseNoticeRoutes, { prefix: '/api/cases' });
  await api.register(taskRoutes, { prefix: '/api/tasks' });
  await api.register(taskAssignmentRoutes, { prefix: '/api/tasks' });
  await api.register(trackRoutes, { prefix: '/api/track' });
  await api.register(procedureRoutes, { prefix: '/api/procedures' });
  await api.register(supervisionRoutes, { prefix: '/api/supervision' });
  await api.register(reportRoutes, { prefix: '/api/reports' });
  await api.register(adminRoutes, { prefix: '/api/admin' });
  await api.register(userRoutes, { prefix: '/api/admin/users' });
  await api.register(noticeRoutes, { prefix: '/api/admin/notices' });
  await api.register(definitionMigrationRoutes, { prefix: '/api/admin/definition-migrations' });
  await api.register(incidentRoutes, { prefix: '/api/admin/incidents' });
  await api.register(paymentRoutes, { prefix: '/api/admin/payments' });
  await api.register(publicApplicationRoutes, { prefix: '/api/public/applications' });
  await api.register(prescreenRoutes, { prefix: '/api/applications' });
  await api.register(leadRoutes, { prefix: '/api/leads' });
  await api.register(healthRoutes);
};

/**
 * Fastify's own answer to a request arriving while it closes (a pipelined request, or one on a
 * keep-alive connection busy when close began) is a bare 503 outside the API's error format;
 * `buildApp` turns it off (SERVER_OPTIONS) and this hook refuses such a request the API's way:
 * 503 SERVICE_UNAVAILABLE with Retry-After, before authentication or any database work. Fastify
 * still marks those answers `Connection: close`, so the client reconnects — to another node.
 */
function installDrainRefusal(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw serviceUnavailable(1);
  });
}

/**
 * The router's own refusals answer before any route (and so the error handler) is chosen, by
 * default in English and echoing the path. A path segment longer than the router takes is an id
 * that names nothing, as a malformed id is (src/http/errors.ts).
 */
function routerRefusal(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  // 414: a path parameter over the router's maxParamLength.
  if (error.statusCode === 414) reply.status(404).send({ code: 'NOT_FOUND', message: '未找到该资源' });
  else if (error.code === 'FST_ERR_BAD_URL') reply.status(400).send({ code: 'BAD_URL', message: '请求地址格式有误' });
  else reply.status(400).send({ code: 'BAD_REQUEST', message: '请求有误' });
}

/**
 * A request Node's HTTP parser refuses (or one too slow, src/http/connections.ts) never reaches
 * Fastify's routing: its answer is written to the socket here, as Fastify's default does, but in
 * the API's shape and words.
 */
function connectionRefusal(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'REQUEST_TIMEOUT', '请求超时，请重试']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', '请求头过大']
        : [400, 'Bad Request', 'BAD_REQUEST', '请求格式有误'];
  const body = JSON.stringify({ code, message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

/** Options every OneWindow server is built with (tests that build their own Fastify use them too). */
export const SERVER_OPTIONS = {
  // Small bodies (no endpoint needs more than a few KB), __proto__ and constructor.prototype refused.
  bodyLimit: 256 * 1024,
  onProtoPoisoning: 'error',
  onConstructorPoisoning: 'error',
  // Requests during a drain are refused by installDrainRefusal, in the API's error format.
  return503OnClosing: false,
  frameworkErrors: routerRefusal,
  clientErrorHandler: connectionRefusal,
} satisfies FastifyServerOptions;

export async function buildApp(
  partial: Omit<AppDeps, 'limits'> & { limits?: Partial<Limits> },
  options: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const deps: AppDeps = { ...partial, limits: { ...LIMITS, ...partial.limits } };
  const app = Fastify({ ...SERVER_OPTIONS, ...options });
  await app.register(oneWindowApp, deps);
  if (deps.webRoot) await app.register(workbench, { root: deps.webRoot });
  await app.ready();
  return app;
}
