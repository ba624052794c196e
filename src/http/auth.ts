import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../engine/engine.ts';
import { DomainError } from '../engine/errors.ts';
import { authenticate } from '../identity.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1];
}

/** Every route needs a valid session unless it is marked `config: { public: true }` (or is the docs). */
export function installAuth(app: FastifyInstance): void {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url ?? '';
    if (request.routeOptions.config?.public || url.startsWith('/docs') || request.is404) return;
    const token = bearerToken(request);
    const actor = token ? await authenticate(app.deps.db, token, app.deps.engine.clock()) : undefined;
    if (!actor) throw new DomainError('unauthenticated', 'UNAUTHENTICATED', '请先登录');
    request.actor = actor;
  });
}

/** The authenticated actor of a protected route. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new DomainError('unauthenticated', 'UNAUTHENTICATED', '请先登录');
  return request.actor;
}
