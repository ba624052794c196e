import type { Db } from './connection.ts';
import { literal } from './wire.ts';

/**
 * A statement written by hand for the command path (issue 11): fixed SQL text with the values
 * kept apart until it is sent — knex's builders cost a transition more Node CPU than the rest of
 * its SQL work (building, `toSQL()`, then inlining by a scan for `?`). Sent two ways:
 * `bound()` as text with knex `?` placeholders and bindings (db.raw: pg's extended protocol or
 * PGlite), `inlined()` with each value as the literal pg would send it (db/wire.ts, simple
 * protocol). Values are never spliced into the text any other way.
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  /** Text with `?` placeholders and its bindings, for knex's raw(). */
  bound(): { sql: string; bindings: unknown[] } {
    return { sql: this.strings.join('?'), bindings: [...this.values] };
  }

  /** Text with every value as a literal, for one simple-protocol query. */
  inlined(): string {
    let out = this.strings[0];
    for (let i = 0; i < this.values.length; i++) out += literal(this.values[i]) + this.strings[i + 1];
    return out;
  }

  /** Runs alone on `db` (outside writeTogether): the rows it returns. */
  async run(db: Db): Promise<Array<Record<string, unknown>>> {
    const { sql, bindings } = this.bound();
    const { rows } = await db.raw(sql, bindings as never[]);
    return rows;
  }
}

/** A column's place in an insert that takes the column's default instead of a value. */
const DEFAULT = Symbol('default');

/** Builds a statement: `text` is SQL (code only, never input), `value` a value kept apart. */
class Builder {
  private strings: string[] = [''];
  private values: unknown[] = [];

  text(s: string): this {
    this.strings[this.strings.length - 1] += s;
    return this;
  }

  value(v: unknown): this {
    if (v === DEFAULT) return this.text('default');
    this.values.push(v);
    this.strings.push('');
    return this;
  }

  list(vs: readonly unknown[]): this {
    vs.forEach((v, i) => (i ? this.text(', ') : this).value(v));
    return this;
  }

  build(): Sql {
    // A `?` in the text would read as a placeholder to knex's raw(): the text here is ours, so never.
    if (this.strings.some((s) => s.includes('?'))) throw new Error('a ? in SQL text');
    return new Sql(this.strings, this.values);
  }
}

const IDENT = /^[a-z_][a-z0-9_]*$/;
const ident = (name: string) => {
  if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return name;
};

/**
 * `insert into <table> (columns) values (…), (…) [returning …]`. Columns are every key of any row
 * (a row without one, or with it undefined, gets DEFAULT) — what knex's insert does.
 */
export function insertSql(table: string, rows: ReadonlyArray<Record<string, unknown>>, returning?: string): Sql {
  if (rows.length === 0) throw new Error('insertSql needs a row');
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const b = new Builder().text(`insert into ${ident(table)} (${columns.map(ident).join(', ')}) values `);
  rows.forEach((r, i) => {
    b.text(i ? ', (' : '(');
    b.list(columns.map((c) => (r[c] === undefined ? DEFAULT : r[c])));
    b.text(')');
  });
  if (returning) b.text(` returning ${ident(returning)}`);
  return b.build();
}

/** A condition on one column: `= value`, or `in (values)` for an array (at least one). */
export type Where = Record<string, unknown>;

/**
 * `update <table> set … where … [returning …]`: `set` keys are columns (undefined ones left
 * out); `where` is a conjunction of equalities, an array meaning `in (…)`.
 */
export function updateSql(table: string, set: Record<string, unknown>, where: Where, returning?: string): Sql {
  const b = new Builder().text(`update ${ident(table)} set `);
  let first = true;
  for (const [column, v] of Object.entries(set)) {
    if (v === undefined) continue;
    b.text(`${first ? '' : ', '}${ident(column)} = `).value(v);
    first = false;
  }
  if (first) throw new Error('updateSql needs a column to set');
  whereClause(b, where);
  if (returning) b.text(` returning ${ident(returning)}`);
  return b.build();
}

function whereClause(b: Builder, where: Where): void {
  const entries = Object.entries(where);
  if (entries.length === 0) throw new Error('an update without a where clause');
  entries.forEach(([column, v], i) => {
    b.text(`${i ? ' and ' : ' where '}${ident(column)}`);
    if (Array.isArray(v)) {
      if (v.length === 0) throw new Error(`empty in-list for ${column}`);
      b.text(' in (').list(v).text(')');
    } else {
      if (v === null || v === undefined) throw new Error(`null comparison for ${column}: say "is null" in SQL`);
      b.text(' = ').value(v);
    }
  });
}
