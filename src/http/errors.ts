import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError, type ErrorKind } from '../engine/errors.ts';
import { documentAs } from './contract/documented.ts';
import { documentedErrorSchema } from './contract/errorCodes.ts';
import { asDomainError } from '../db/transaction.ts';

/**
 * The one error shape every endpoint returns. On the wire `code` is any string and `details`
 * anything, so a code or shape missing from the documented enum can never turn a refusal into a
 * 500; the document shows the precise schema (contract/errorCodes.ts), and test/contract keeps
 * the two in step.
 */
export const errorSchema = documentAs(
  z.object({
    code: z.string().describe('Stable machine-readable code'),
    message: z.string().describe('Human-readable message (zh-CN)'),
    details: z.unknown().optional().describe('Field-level issues or other structured detail'),
  }),
  documentedErrorSchema,
);

const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  invalid: 422,
  too_many: 429,
  unavailable: 503,
};

// Fastify's own 4xx errors, in words a person can act on.
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: '不支持的请求内容类型，请使用 application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: '请求内容过大',
  FST_ERR_CTP_EMPTY_JSON_BODY: '请求体不能为空',
  FST_ERR_CTP_INVALID_JSON_BODY: '请求体不是有效的 JSON',
};

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError | DomainError, request, reply) => {
    // An unreachable database, a full pool, a timed-out statement: 503 + Retry-After, never 500.
    const err = asDomainError(raw) as FastifyError | DomainError;
    if (err !== raw) request.log.warn({ err: raw }, 'database unavailable');
    if (err instanceof DomainError) {
      // Any refusal that says when to come back carries Retry-After (429, 409 CASE_BUSY, 503).
      const retry = (err.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (typeof retry === 'number' && retry > 0) reply.header('retry-after', String(Math.ceil(retry)));
      return reply.status(STATUS[err.kind]).send({ code: err.code, message: err.message, details: err.details });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      // A malformed id in the path names nothing that could exist.
      if (err.validationContext === 'params') {
        return reply.status(404).send({ code: 'NOT_FOUND', message: '未找到该资源' });
      }
      const details = err.validation.map((v) => ({
        path: [err.validationContext, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: v.message,
      }));
      return reply.status(422).send({ code: 'VALIDATION_FAILED', message: '请求参数有误，请按提示修改', details });
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = (err as FastifyError).code ?? 'BAD_REQUEST';
      const message = FASTIFY_MESSAGES[code] ?? (err as Error).message ?? '请求有误';
      return reply.status(status).send({ code: code.replace(/^FST_ERR_(CTP_)?/, ''), message });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ code: 'INTERNAL_ERROR', message: '系统内部错误，请稍后重试' });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `接口不存在：${request.method} ${request.url.split('?')[0]}` }),
  );
}
