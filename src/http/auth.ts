import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Role } from '../../workflows/index.ts';
import type { Actor } from '../engine/engine.ts';
import { DomainError } from '../engine/errors.ts';
import { authenticate } from '../identity.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** The caller must hold one of these roles; checked before the body is parsed or validated. */
    roles?: Role[];
    /** Any signed-in user, roles or not (who am I, logout). Every other route needs a role. */
    anyUser?: boolean;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1];
}

/**
 * Every route needs a valid session unless it is marked `config: { public: true }` (or is the
 * docs), and a role unless marked `anyUser`; `config.roles` narrows the roles. All of it runs
 * on request, before the body is read: who may call decides before what they sent.
 */
export function installAuth(app: FastifyInstance): void {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url ?? '';
    const config = request.routeOptions.config;
    if (config?.public || url.startsWith('/docs') || request.is404) return;
    const token = bearerToken(request);
    const actor = token ? await authenticate(app.deps.db, token, app.deps.engine.clock()) : undefined;
    if (!actor) throw new DomainError('unauthenticated', 'UNAUTHENTICATED', '请先登录');
    request.actor = actor;
    if (config?.anyUser) return;
    if (actor.roles.length === 0) throw new DomainError('forbidden', 'ROLE_REQUIRED', '您的账号尚未分配岗位，无权使用该功能');
    if (config?.roles && !config.roles.some((r) => actor.roles.includes(r))) {
      throw new DomainError('forbidden', 'ROLE_REQUIRED', '您的岗位无权使用该功能');
    }
  });
}

/** The authenticated actor of a protected route. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new DomainError('unauthenticated', 'UNAUTHENTICATED', '请先登录');
  return request.actor;
}
