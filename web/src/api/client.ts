import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

/*
 * The one way the workbench talks to the service: an openapi-fetch client typed by
 * schema.d.ts, which `npm run generate:web-api` writes from the live OpenAPI document (and a
 * test fails while it is stale). A renamed field or operation therefore breaks the UI build.
 */

export type Schemas = components['schemas'];
export type User = Schemas['User'];
export type CaseView = Schemas['CaseView'];
export type Procedure = Schemas['Procedure'];
export type ProcedureSummary = Schemas['ProcedureSummary'];
export type TrackingView = Schemas['TrackingView'];
export type OpenedCase = Schemas['OpenedCase'];
export type OpenCaseRequest = Schemas['OpenCaseRequest'];
export type FieldIssue = { path: string; message: string };

const TOKEN_KEY = 'onewindow.token';

/** The session token lives for this browser tab only (sessionStorage), never in a cookie. */
export const tokenStore = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called when the service says the session is gone (expired, revoked, account disabled). */
let onSessionLost: () => void = () => {};
export function whenSessionLost(fn: () => void) {
  onSessionLost = fn;
}

// Login answers 401 for a wrong password: that is not a lost session.
const isLogin = (request: Request) => new URL(request.url).pathname === '/api/auth/login';

const auth: Middleware = {
  onRequest({ request }) {
    const token = tokenStore.get();
    if (token && !isLogin(request) && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !isLogin(request) && request.headers.has('authorization')) {
      tokenStore.clear();
      onSessionLost();
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? '' });
api.use(auth);

/** An answer of the service that is not a success, in the contract's one error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Seconds, from Retry-After (429, 503, 409 CASE_BUSY). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }

  /** The 422 field issues (`details[].path`), if any. */
  get fieldIssues(): FieldIssue[] {
    return Array.isArray(this.details) ? (this.details as FieldIssue[]).filter((d) => typeof d?.path === 'string') : [];
  }
}

const NETWORK_MESSAGE = '无法连接服务，请检查网络后重试';

/**
 * Awaits an openapi-fetch call and returns its data, or throws ApiError with the service's
 * zh-CN message (or a zh-CN message of our own when the network or the body fails).
 */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: Awaited<typeof request>;
  try {
    result = await request;
  } catch {
    throw new ApiError(0, 'NETWORK', NETWORK_MESSAGE);
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  const body = (error ?? {}) as { code?: string; message?: string; details?: unknown };
  const retry = Number(response.headers.get('retry-after'));
  throw new ApiError(
    response.status,
    body.code ?? `HTTP_${response.status}`,
    body.message ?? `服务暂时无法处理请求（${response.status}），请稍后重试`,
    body.details,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}

/**
 * A fresh Idempotency-Key. getRandomValues works on plain http too (randomUUID needs a secure
 * context, which a window on an intranet address is not).
 */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
