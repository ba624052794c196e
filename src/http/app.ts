import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Knex } from 'knex';
import type { Engine } from '../engine/engine.ts';
import { installAuth } from './auth.ts';
import { installErrorHandling } from './errors.ts';
import authRoutes from './routes/auth.ts';
import caseRoutes from './routes/cases.ts';
import procedureRoutes from './routes/procedures.ts';
import adminRoutes from './routes/admin.ts';
import supervisionRoutes from './routes/supervision.ts';
import taskRoutes from './routes/tasks.ts';
import trackRoutes from './routes/track.ts';

export interface AppDeps {
  db: Knex;
  engine: Engine;
  sessionHours: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
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

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'OneWindow 一窗通办 API',
        version: '0.1.0',
        description:
          '一门受理、协同办理：窗口受理、部门协同审核、时限与发放。所有错误返回 {code, message, details?}；' +
          '除登录、办件查询和本文档外，所有接口需 Authorization: Bearer <token>。',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  installAuth(app);
  const api = app.withTypeProvider<ZodTypeProvider>();
  await api.register(authRoutes, { prefix: '/api/auth' });
  await api.register(caseRoutes, { prefix: '/api/cases' });
  await api.register(taskRoutes, { prefix: '/api/tasks' });
  await api.register(trackRoutes, { prefix: '/api/track' });
  await api.register(procedureRoutes, { prefix: '/api/procedures' });
  await api.register(supervisionRoutes, { prefix: '/api/supervision' });
  await api.register(adminRoutes, { prefix: '/api/admin' });
};

export async function buildApp(deps: AppDeps, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: 256 * 1024, ...options });
  await app.register(oneWindowApp, deps);
  await app.ready();
  return app;
}
