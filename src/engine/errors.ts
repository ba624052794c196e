/** Kinds of refusal; the HTTP layer maps each to one status code. */
export type ErrorKind = 'invalid' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'bad_request' | 'too_many';

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
