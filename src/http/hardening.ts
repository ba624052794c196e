import type { FastifyInstance } from 'fastify';
import { DomainError } from '../engine/errors.ts';

/** Headers every response carries. The docs UI needs its own scripts and styles; the API needs nothing. */
const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};
const API_CSP = "default-src 'none'; frame-ancestors 'none'";
const DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'";

/**
 * Text PostgreSQL cannot store (NUL, unpaired surrogates) is refused up front with a 422 naming
 * the field, instead of failing deep inside a query.
 */
function findBadText(value: unknown, path: string[]): string | null {
  if (typeof value === 'string') return value.includes('\u0000') || !value.isWellFormed() ? path.join('.') || '(value)' : null;
  if (value === null || typeof value !== 'object') return null;
  for (const [k, v] of Object.entries(value)) {
    const inKey = findBadText(k, [...path, '(key)']);
    if (inKey) return inKey;
    const found = findBadText(v, [...path, k]);
    if (found) return found;
  }
  return null;
}

export function installHardening(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    reply.headers(COMMON_HEADERS);
    const isDocs = request.url.startsWith('/docs');
    reply.header('content-security-policy', isDocs ? DOCS_CSP : API_CSP);
    if (!isDocs && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.addHook('preValidation', async (request) => {
    for (const [part, value] of [['body', request.body], ['querystring', request.query], ['params', request.params]] as const) {
      const at = findBadText(value, []);
      if (at) throw new DomainError('invalid', 'INVALID_CHARACTERS', '请求中含有无法保存的字符（如空字符）', [{ path: `${part}.${at}`, message: '含有无效字符' }]);
    }
  });
}
