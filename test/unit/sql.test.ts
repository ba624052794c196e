import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { insertSql, updateSql } from '../../src/db/sql.ts';
import { escapeLiteral, inline } from '../../src/db/wire.ts';

const pgUtils: { escapeLiteral(s: string): string } = createRequire(import.meta.url)('pg/lib/utils.js');

// The command path's hand-written statements (issue 11) must send what knex's builders sent.
describe('hand-written statements (db/sql.ts)', () => {
  it('quotes a literal exactly as pg does, whatever the string holds', () => {
    const samples = ['', 'plain', "O'Brien", 'a\\b', "it's a \\ mix''", '{"a":"b\'c"}', '群众异议，重新调查', '\\', "'", 'x'.repeat(5000) + "'"];
    for (let i = 0; i < 300; i++) samples.push(Array.from({ length: i % 40 }, () => "ab'\\\"中 ?$"[Math.floor(Math.random() * 10)]).join(''));
    for (const s of samples) expect(escapeLiteral(s)).toBe(pgUtils.escapeLiteral(s));
  });

  it('an insert gives the same text bound or inlined, DEFAULT for a missing column, values kept out of the text', () => {
    const q = insertSql('timers', [{ case_id: 'c1', kind: "o'clock", due_at: new Date('2026-03-02T01:30:00Z') }, { case_id: 'c2', kind: 'red' }], 'id');
    const { sql, bindings } = q.bound();
    expect(sql).toBe('insert into timers (case_id, kind, due_at) values (?, ?, ?), (?, ?, default) returning id');
    expect(bindings).toEqual(['c1', "o'clock", new Date('2026-03-02T01:30:00Z'), 'c2', 'red']);
    // Inlining the bound form the old way (knex's text, wire.ts inline) and the new way agree.
    expect(q.inlined()).toBe(inline(sql, bindings));
    expect(q.inlined()).toContain("'o''clock'");
  });

  it('an update leaves undefined columns out, and an array in the where clause is an in-list', () => {
    const q = updateSql('timers', { status: 'cancelled', note: undefined }, { task_id: ['t1', 't2'], status: 'pending' }, 'id');
    expect(q.bound()).toEqual({ sql: 'update timers set status = ? where task_id in (?, ?) and status = ? returning id', bindings: ['cancelled', 't1', 't2', 'pending'] });
    expect(q.inlined()).toBe("update timers set status = 'cancelled' where task_id in ('t1', 't2') and status = 'pending' returning id");
  });

  it('refuses what would change a statement’s meaning: no where clause, an empty in-list, a null equality, a foreign identifier', () => {
    expect(() => updateSql('cases', { status: 'done' }, {})).toThrow(/without a where/);
    expect(() => updateSql('cases', { status: 'done' }, { id: [] })).toThrow(/empty in-list/);
    expect(() => updateSql('cases', { status: 'done' }, { closed_at: null })).toThrow(/is null/);
    expect(() => insertSql('cases; drop table cases', [{ id: 1 }])).toThrow(/identifier/);
    expect(() => insertSql('cases', [{ 'id"': 1 }])).toThrow(/identifier/);
    expect(() => insertSql('cases', [])).toThrow(/needs a row/);
  });
});
