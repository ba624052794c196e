/**
 * Kinds of refusal; the HTTP layer maps each to one status code. `unavailable` (503) is not the
 * caller's fault: the database is unreachable, the pool is exhausted or the request ran out of
 * time — nothing was written, or the outcome is settled by retrying with the same Idempotency-Key.
 */
export type ErrorKind = 'invalid' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'bad_request' | 'too_many' | 'unavailable';

/**
 * A refusal the caller can act on: a stable machine `code`, a zh-CN `message` for people,
 * optional structured `details`. Throwing one inside a transaction rolls everything back.
 */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export interface FieldIssue {
  path: string;
  message: string;
}

/** Turns zod issues into field-level messages. */
export function fieldIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldIssue[] {
  return issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

export const notFound = (what = '办件') => new DomainError('not_found', 'NOT_FOUND', `未找到该${what}`);

/** 503: the database cannot serve this request now; safe to retry after `retryAfterSeconds`. */
export const serviceUnavailable = (retryAfterSeconds = 2) =>
  new DomainError('unavailable', 'SERVICE_UNAVAILABLE', '服务暂时繁忙或不可用，请稍后重试', { retryAfterSeconds });

/** 409: another command holds this case right now (or someone outside the service locked it). */
export const caseBusy = (retryAfterSeconds = 1) =>
  new DomainError('conflict', 'CASE_BUSY', '案件正在处理中，请稍后重试', { retryAfterSeconds });
