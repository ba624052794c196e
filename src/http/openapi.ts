import type { SwaggerOptions, SwaggerTransform } from '@fastify/swagger';
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { codesFor, shown } from './contract/documented.ts';
import { statusOf, type ErrorCode } from './contract/errorCodes.ts';

/*
 * The OpenAPI document (GET /docs/json). Routes give operationId, tags, summary, description and
 * their own refusals (`refusals(…)` in schemas.ts); everything an operation has because of what it
 * is — authenticated or public, mutating, taking a body, path or query — is added here, so a new
 * route gets its 401/403/400/413/415/422/429/503 responses, Idempotency-Key, Retry-After and
 * Idempotent-Replayed headers without writing them.
 */

declare module 'fastify' {
  interface FastifySchema {
    /** Codes this operation can answer besides those its traits imply (prefer `refusals(…)` in `response`). */
    'x-error-codes'?: readonly ErrorCode[];
  }
}

export const TAGS = [
  { name: 'auth', description: '登录、退出与当前用户。Login is public (rate-limited); the rest need a session.' },
  { name: 'cases', description: '办件：受理、详情、推进。Clerks open cases; staff of the case region read them and send the events their post allows.' },
  { name: 'tasks', description: '部门待办：收件箱、认领、办结。A task is worked by its department and role in its region.' },
  { name: 'procedures', description: '事项定义：状态、任务、部门、材料、时限、事件及其 data 结构（任何工作人员）。' },
  { name: 'tracking', description: '群众查询办件进度：公开，需受理编号与查询码，按地址与编号限流。' },
  { name: 'supervision', description: '时限督办：预警、黄牌、红牌任务（督办人员、管理员）。' },
  { name: 'audit', description: '办件日志哈希链（SM3）核验（督办人员、管理员）。' },
  { name: 'admin', description: '管理：工作日历、用户（管理员，限本辖区）。' },
  { name: 'applications', description: '网上申请（受办分离）：群众公开填报并验证手机，乡镇窗口预审后受理为办件或一次性告知退回。' },
  { name: 'leads', description: '主动发现：网格员登记线索，乡镇（街道）社会救助经办机构审核、关闭或转为救助申请。' },
  { name: 'operations', description: '运维：存活与就绪检查、Prometheus 指标（公开或本机；docs/operations.md）。' },
];

const MUTATING = new Set(['post', 'put', 'patch', 'delete']);
const ERROR_REF = { $ref: '#/components/schemas/Error' };
const RETRY_AFTER = { $ref: '#/components/headers/RetryAfter' };
const REASONS: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict with the current state of the case',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests; retry after Retry-After seconds',
  500: 'Internal error',
  503: 'Service unavailable; retry after Retry-After seconds with the same Idempotency-Key',
};

const BODY_CODES: ErrorCode[] = [
  'BAD_REQUEST',
  'EMPTY_JSON_BODY',
  'INVALID_JSON_BODY',
  'INVALID_CONTENT_LENGTH',
  'INVALID_ENCODING',
  'BODY_TOO_LARGE',
  'INVALID_MEDIA_TYPE',
  'VALIDATION_FAILED',
  'INVALID_CHARACTERS',
  'BODY_TOO_DEEP',
];

/** The codes an operation can answer because of what it is. */
function impliedCodes(method: string, op: any): ErrorCode[] {
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const params: any[] = op.parameters ?? [];
  // OVERLOADED: load shedding (hardening.ts) may refuse any operation but the probes.
  const codes: ErrorCode[] = ['SERVICE_UNAVAILABLE', 'OVERLOADED'];
  if (isPublic) codes.push('RATE_LIMITED');
  else codes.push('UNAUTHENTICATED', 'ROLE_REQUIRED');
  if (op.requestBody) codes.push(...BODY_CODES);
  if (params.some((p) => p.in === 'path')) codes.push('NOT_FOUND', 'INVALID_CHARACTERS');
  if (params.some((p) => p.in === 'query')) codes.push('VALIDATION_FAILED', 'INVALID_CHARACTERS');
  if (MUTATING.has(method) && !isPublic) codes.push('INVALID_IDEMPOTENCY_KEY', 'IDEMPOTENCY_KEY_REUSED');
  return codes;
}

function errorResponse(status: number, codes: string[]) {
  const retry = status === 429 || status === 503 || codes.includes('CASE_BUSY');
  const list = codes.map((c) => `\`${c}\``).join(', ');
  return {
    description: `${REASONS[status] ?? 'Error'}.${list ? ` Codes: ${list}.` : ''}`,
    ...(retry ? { headers: { 'Retry-After': RETRY_AFTER } } : {}),
    content: { 'application/json': { schema: ERROR_REF } },
  };
}

/** Adds what each operation's traits imply: error responses with their codes, headers, parameters. */
function completeOperation(method: string, op: any): void {
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const mutating = MUTATING.has(method) && !isPublic;
  const codes = new Set<string>([...impliedCodes(method, op), ...((op['x-error-codes'] as string[] | undefined) ?? [])]);
  const byStatus = new Map<number, string[]>();
  for (const [status] of Object.entries(op.responses ?? {})) if (Number(status) >= 400) byStatus.set(Number(status), []);
  for (const code of [...codes].sort()) {
    const status = statusOf(code)!;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    if (Number(status) >= 400) continue;
    const r = response as any;
    if (mutating) r.headers = { ...r.headers, 'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' } };
    if (r.description === 'Default Response') r.description = Number(status) === 204 ? 'Done' : 'OK';
    responses[status] = r;
  }
  for (const status of [...byStatus.keys()].sort()) responses[status] = errorResponse(status, byStatus.get(status)!);
  op.responses = responses;
  op['x-error-codes'] = [...byStatus.values()].flat().sort();
  if (mutating) op.parameters = [...(op.parameters ?? []), { $ref: '#/components/parameters/IdempotencyKey' }];
}

/** Every `$ref` string under `value`. */
function refsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.add(v);
      else refsIn(v, out);
    }
  }
  return out;
}

const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];

/**
 * Request schemas keep their defaults in words only: generators (openapi-typescript's default
 * `defaultNonNullable`) make a property with a `default` required in a component, so a client
 * would have to send what the server fills in itself.
 */
function describeDefaults(schema: any): any {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: any = { ...schema };
  if ('default' in out) {
    out.description = [out.description, `Default: ${JSON.stringify(out.default)}.`].filter(Boolean).join(' ');
    delete out.default;
  }
  if (out.properties) out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, describeDefaults(v)]));
  for (const k of ['items', 'additionalProperties', 'not']) if (out[k] && typeof out[k] === 'object') out[k] = describeDefaults(out[k]);
  for (const k of SUBSCHEMA_LISTS) if (Array.isArray(out[k])) out[k] = out[k].map(describeDefaults);
  return out;
}

function rewriteRefs(value: unknown, renames: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, renames));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? (renames.get(v) ?? v) : rewriteRefs(v, renames)]));
  }
  return value;
}

const SCHEMAS = '#/components/schemas/';

/**
 * The provider emits every registered schema twice (`X` for responses, `XInput` for requests).
 * Keep only those the operations reach, and give a request-only schema its plain name — the one
 * task actions point at (`dataSchema`).
 */
function pruneSchemas(doc: any): any {
  const schemas: Record<string, unknown> = doc.components.schemas ?? {};
  const reached = new Set<string>();
  const queue = [...refsIn({ ...doc, components: { ...doc.components, schemas: {} } })];
  while (queue.length) {
    const ref = queue.pop()!;
    if (!ref.startsWith(SCHEMAS)) continue;
    const name = ref.slice(SCHEMAS.length);
    if (reached.has(name) || !(name in schemas)) continue;
    reached.add(name);
    queue.push(...refsIn(schemas[name]));
  }
  const ids = (z.globalRegistry as unknown as { _idmap: Map<string, unknown> })._idmap;
  const renames = new Map<string, string>();
  for (const name of reached) {
    const plain = name.replace(/Input$/, '');
    if (plain !== name && ids.has(plain) && !ids.has(name) && !reached.has(plain)) renames.set(SCHEMAS + name, SCHEMAS + plain);
  }
  const kept: Record<string, unknown> = {};
  for (const name of [...reached].sort()) {
    const requestSide = name.endsWith('Input') && ids.has(name.replace(/Input$/, ''));
    kept[(renames.get(SCHEMAS + name) ?? SCHEMAS + name).slice(SCHEMAS.length)] = requestSide ? describeDefaults(schemas[name]) : schemas[name];
  }
  return rewriteRefs({ ...doc, components: { ...doc.components, schemas: kept } }, renames);
}

export function finishDocument(doc: any): any {
  for (const item of Object.values(doc.paths ?? {}) as any[]) {
    for (const [method, op] of Object.entries(item)) if (MUTATING.has(method) || method === 'get') completeOperation(method, op);
  }
  return pruneSchemas(doc);
}

const zodTransform = createJsonSchemaTransform({});
const zodTransformObject = createJsonSchemaTransformObject({});

/** Renders a route's zod schemas as documented (see contract/documented.ts) and drops the trailing slash of `/` routes. */
const transform: SwaggerTransform = (input) => {
  const schema = input.schema as Record<string, any> | undefined;
  if (!schema) return zodTransform(input as any);
  const codes = Object.values(schema.response ?? {}).flatMap((s) => codesFor(s));
  const substituted = {
    ...schema,
    ...(schema.body ? { body: shown(schema.body) } : {}),
    ...(schema.response ? { response: Object.fromEntries(Object.entries(schema.response).map(([k, v]) => [k, shown(v)])) } : {}),
    ...(codes.length || schema['x-error-codes'] ? { 'x-error-codes': [...(schema['x-error-codes'] ?? []), ...codes] } : {}),
  };
  const out = zodTransform({ ...input, schema: substituted } as any);
  const url = out.url && out.url.length > 1 ? out.url.replace(/\/$/, '') : out.url;
  return { schema: out.schema, url };
};

export function swaggerOptions(): SwaggerOptions {
  return {
    openapi: {
      // 3.1: JSON Schema 2020-12, so a $ref may carry a description and null is a type.
      openapi: '3.1.0',
      info: {
        title: 'OneWindow 一窗通办 API',
        version: '0.1.0',
        description:
          '一门受理、协同办理：窗口受理、部门协同审核、时限与发放。所有错误返回 {code, message, details?}（见 Error；每个接口的 x-error-codes 列出其可能的 code）；' +
          '除登录、办件查询和本文档外，所有接口需 Authorization: Bearer <token>。' +
          '写操作可带 Idempotency-Key 头（1–200个可见ASCII字符，保留24小时）：同键同内容的重试返回原结果且不重复执行（响应头 Idempotent-Replayed: true），同键不同内容返回422。' +
          '409 CASE_BUSY、429 与 503 带 Retry-After：等待后以同一 Idempotency-Key、同一请求体重试是安全的（docs/api.md）。',
        // No licence has been chosen for the project yet; the document says so rather than inventing one.
        license: { name: 'No licence chosen yet (all rights reserved)', url: 'https://choosealicense.com/no-permission/' },
      },
      servers: [{ url: '/', description: 'This service' }],
      tags: TAGS,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Token from POST /api/auth/login' } },
        parameters: {
          IdempotencyKey: {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description:
              '1–200 visible ASCII characters, kept 24 hours per user. A retry with the same key and body returns the stored response without running the command again; the same key with another body → 422 IDEMPOTENCY_KEY_REUSED.',
            schema: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]{1,200}$' },
          },
        },
        headers: {
          RetryAfter: { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
          IdempotentReplayed: {
            description: '`true` when this response is the stored result of an earlier request with the same Idempotency-Key',
            schema: { type: 'string', enum: ['true'] },
          },
        },
      } as any,
      security: [{ bearer: [] }],
    },
    transform,
    transformObject: (input) => finishDocument(zodTransformObject(input)),
  };
}
