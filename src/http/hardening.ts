import type { FastifyInstance } from 'fastify';
import { isUtf8 } from 'node:buffer';
import { DomainError } from '../engine/errors.ts';
import { installAnonymousThrottle } from './abuse.ts';
import underPressure from '@fastify/under-pressure';

/** Headers every response carries. The docs UI needs its own scripts and styles; the API needs nothing. */
export const COMMON_HEADERS = {
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

/** Limits of a JSON body's shape: no request needs more than a few levels or a few thousand values. */
export const JSON_LIMITS = { maxDepth: 32, maxNodes: 10_000 };

/**
 * One O(n) pass over the raw bytes, before JSON.parse, that stops at the first level past
 * `maxDepth` or value past `maxNodes`. A body nested 80,000 deep therefore costs microseconds
 * instead of recursion in every later step (parse, validation, the text check). Containers plus
 * commas outside strings count the values (an array of n scalars counts n); malformed JSON is left
 * to JSON.parse.
 */
export function jsonShapeProblem(body: Uint8Array, limits = JSON_LIMITS): 'depth' | 'nodes' | null {
  let depth = 0;
  let nodes = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (inString) {
      if (b === 0x5c) i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > limits.maxDepth) return 'depth';
      if (++nodes > limits.maxNodes) return 'nodes';
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
    } else if (b === 0x2c && ++nodes > limits.maxNodes) {
      return 'nodes';
    }
  }
  return null;
}

const isBadText = (s: string) => s.includes('\u0000') || !s.isWellFormed();

/**
 * Text PostgreSQL cannot store (NUL, unpaired surrogates) is refused up front with a 422 naming
 * the field, instead of failing deep inside a query. Iterative, so no input can exhaust the stack.
 */
export function findBadText(root: unknown): string | null {
  const stack: Array<{ value: unknown; path: string }> = [{ value: root, path: '' }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      if (isBadText(value)) return path || '(value)';
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    const entries = Object.entries(value);
    const children: typeof stack = [];
    for (const [k, v] of entries) {
      if (isBadText(k)) return path ? `${path}.(key)` : '(key)';
      children.push({ value: v, path: path ? `${path}.${k}` : k });
    }
    // Reversed, so fields are checked (and the first bad one named) in document order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return null;
}

export function installHardening(app: FastifyInstance): void {
  installAnonymousThrottle(app);

  // JSON bodies: valid UTF-8 (no silent U+FFFD), bounded shape, then Fastify's own parser, which
  // refuses __proto__ and constructor.prototype.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    // Shape first: it stops at the 33rd level, so a hostile body costs a few bytes of scanning.
    const problem = jsonShapeProblem(bytes);
    if (problem) {
      const message = problem === 'depth' ? `嵌套层级不能超过${JSON_LIMITS.maxDepth}层` : `元素数量不能超过${JSON_LIMITS.maxNodes}个`;
      return done(new DomainError('invalid', 'BODY_TOO_DEEP', '请求内容嵌套过深或元素过多', [{ path: 'body', message }]), undefined);
    }
    if (!isUtf8(bytes)) {
      return done(new DomainError('bad_request', 'INVALID_ENCODING', '请求内容不是有效的 UTF-8 编码，请检查后重新提交'), undefined);
    }
    parseJson(request, bytes.toString('utf8'), done);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.headers(COMMON_HEADERS);
    // Shutting down (src/shutdown.ts): the client reconnects elsewhere instead of reusing this socket.
    if (app.deps.lifecycle?.draining) reply.header('connection', 'close');
    const isDocs = request.url.startsWith('/docs');
    reply.header('content-security-policy', isDocs ? DOCS_CSP : API_CSP);
    if (!isDocs && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.addHook('preValidation', async (request) => {
    for (const [part, value] of [['body', request.body], ['querystring', request.query], ['params', request.params]] as const) {
      const at = findBadText(value);
      if (at) throw new DomainError('invalid', 'INVALID_CHARACTERS', '请求中含有无法保存的字符（如空字符）', [{ path: `${part}.${at}`, message: '含有无效字符' }]);
    }
  });
}

/** Load shedding (docs/operations.md): past any of these the service answers 503 OVERLOADED. 0 or unset: that check is off. */
export interface OverloadOptions {
  maxEventLoopDelayMs?: number;
  maxHeapUsedBytes?: number;
  maxRssBytes?: number;
  /** Retry-After of the refusal. */
  retryAfterSeconds?: number;
  /** An extra check (tests inject pressure with it): false → shed. Re-run every healthCheckIntervalMs. */
  healthCheck?: () => Promise<boolean>;
  healthCheckIntervalMs?: number;
  /** How often event-loop delay, heap and RSS are sampled (under-pressure's default: 1 s). */
  sampleIntervalMs?: number;
}

/**
 * @fastify/under-pressure samples event-loop delay, heap and RSS; while one is past its limit,
 * every request except the probes (/healthz, /readyz, /metrics — readiness reports the pressure
 * itself) is refused in `onRequest`, before authentication or any database work, with the
 * project's error body and Retry-After. Shedding early keeps the requests already admitted fast.
 */
export async function installOverload(app: FastifyInstance, o: OverloadOptions, onShed: (type: string) => void = () => {}): Promise<void> {
  const retryAfterSeconds = o.retryAfterSeconds ?? 10;
  await app.register(underPressure, {
    maxEventLoopDelay: o.maxEventLoopDelayMs ?? 0,
    maxHeapUsedBytes: o.maxHeapUsedBytes ?? 0,
    maxRssBytes: o.maxRssBytes ?? 0,
    retryAfter: retryAfterSeconds,
    sampleInterval: o.sampleIntervalMs,
    ...(o.healthCheck ? { healthCheck: async () => o.healthCheck!(), healthCheckInterval: o.healthCheckIntervalMs ?? 1_000 } : {}),
    pressureHandler: (request, _reply, type) => {
      if (request.routeOptions.config?.probe) return undefined; // carry on
      onShed(type);
      return Promise.reject(new DomainError('unavailable', 'OVERLOADED', '系统繁忙，请稍后重试', { retryAfterSeconds }));
    },
  });
}
