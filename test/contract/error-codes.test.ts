import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/http/contract/errorCodes.ts';
import { errorSchema } from '../../src/http/errors.ts';

// The document enumerates error codes; the wire schema does not (so that a forgotten code is
// never a 500). This test is what keeps the enumeration complete: every code the source can
// throw or send must be listed in src/http/contract/errorCodes.ts.

const root = path.resolve(import.meta.dirname, '../..');
const sources = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
const CODE = /'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{6,})'/g;

function codesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of [...sources(path.join(root, 'src')), ...sources(path.join(root, 'workflows'))]) {
    const text = fs.readFileSync(file, 'utf8');
    const at = (code: string) => found.set(code, path.relative(root, file));
    // `new DomainError(kind, code…`: the codes are the upper-case literals before the (zh-CN) message.
    for (const m of text.matchAll(/DomainError\(([\s\S]{0,240})/g)) {
      const head = m[1].split(/['`][^'`]*[\u4e00-\u9fff]/)[0];
      for (const c of head.matchAll(CODE)) at(c[1]);
    }
    for (const m of text.matchAll(/(?:tooMany|super)\(\s*'(?:[a-z_]+',\s*')?([A-Z][A-Z_]+)'/g)) at(m[1]);
    // Bodies the error handler builds itself: `{ code: 'X', message… }`.
    if (file.includes(`${path.sep}src${path.sep}http${path.sep}`)) for (const m of text.matchAll(/\bcode: '([A-Z][A-Z_]+)'/g)) at(m[1]);
    // Fastify's own codes, as the handler renames them.
    for (const m of text.matchAll(/\bFST_ERR_(?:CTP_)?([A-Z_]+)\b/g)) at(m[1]);
  }
  return found;
}

describe('error codes', () => {
  it('lists every code the source can answer in the documented enum', () => {
    const found = codesInSource();
    expect([...found.keys()]).toEqual(expect.arrayContaining(['VALIDATION_FAILED', 'RATE_LIMITED', 'CALENDAR_YEAR_MISSING', 'TASK_NOT_OPEN', 'BODY_TOO_LARGE', 'INTERNAL_ERROR']));
    const missing = [...found].filter(([code]) => !(code in ERROR_CODES)).map(([code, file]) => `${code} (${file})`);
    expect(missing, 'add these to src/http/contract/errorCodes.ts').toEqual([]);
  });

  it('are all explained in docs/api.md', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/api.md'), 'utf8');
    expect(Object.keys(ERROR_CODES).filter((code) => !doc.includes(`| \`${code}\` |`))).toEqual([]);
  });

  it('serialises an unlisted code and details shape rather than failing the response', () => {
    const body = { code: 'SOMETHING_NEW', message: '新的错误', details: { year: 2027 } };
    expect(errorSchema.parse(body)).toEqual(body);
  });
});
