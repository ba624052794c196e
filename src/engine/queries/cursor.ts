import type { TaskKey, TaskSort } from '../../db/tasks.ts';
import { DomainError } from '../errors.ts';

/**
 * Keyset pagination: a page ends with an opaque cursor holding the last row's sort key; the next
 * page starts after it, so a page deep down costs what the first one does and rows moving in or
 * out between requests neither repeat nor vanish. Opaque (base64url JSON) so the key may change.
 */
export function encodeCursor(key: TaskKey): string {
  return Buffer.from(JSON.stringify([key.sort, key.at ? key.at.toISOString() : null, key.id])).toString('base64url');
}

const invalid = () =>
  new DomainError('invalid', 'VALIDATION_FAILED', '请求参数有误，请按提示修改', [{ path: 'querystring.cursor', message: '无效的翻页标记，请从第一页重新查询' }]);

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key inside a cursor, which must belong to the same sort order. */
export function decodeCursor(cursor: string, sort: TaskSort): TaskKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid();
  const [s, at, id] = parsed as unknown[];
  if (s !== sort || typeof id !== 'string' || !UUID.test(id)) throw invalid();
  if (at === null) return { sort, at: null, id };
  if (typeof at !== 'string' || !ISO_INSTANT.test(at) || Number.isNaN(Date.parse(at))) throw invalid();
  return { sort, at: new Date(at), id };
}
