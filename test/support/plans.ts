import type { Knex } from 'knex';

/*
 * Query plans for the plan tests (test/integration/query-plans.test.ts and the read models'):
 * each captured statement is EXPLAINed again with its own bindings and enable_seqscan = off, and
 * a scan that reads a whole growing table — or a whole index, with no condition on it — fails.
 */

/** Tables that grow with cases and time; a small table (regions, calendars) may be read whole. */
export const GROWING_TABLES = ['cases', 'tasks', 'timers', 'case_events', 'sessions', 'idempotency_keys', 'outbox', 'notices', 'notice_sink_messages', 'online_applications', 'leads'];

export interface Captured {
  sql: string;
  bindings: unknown[];
}

/**
 * A captured query as its statements: src/db/wire.ts sends several in one simple query (values
 * inlined, no bindings) joined by ";\n" — BEGIN with the case lock, the writes with COMMIT.
 */
export function statementsOf(q: Captured): Captured[] {
  if (q.bindings.length || !/;\n/.test(q.sql)) return [q];
  return q.sql
    .split(/;\n/)
    .map((s) => s.replace(/;\s*$/, ''))
    .filter((s) => s.trim())
    .map((sql) => ({ sql, bindings: [] }));
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function wholeScans(node: PlanNode, growing: Set<string>, relation?: string): string[] {
  const rel = node['Relation Name'] ?? relation;
  const found: string[] = [];
  const type = node['Node Type'];
  if (rel && growing.has(rel)) {
    if (type === 'Seq Scan') found.push(`Seq Scan on ${rel}`);
    if (/^(Index Scan|Index Only Scan|Bitmap Index Scan)$/.test(type) && !node['Index Cond']) found.push(`${type} of all of ${node['Index Name']} (${rel})`);
  }
  for (const child of node.Plans ?? []) found.push(...wholeScans(child, growing, type === 'Bitmap Heap Scan' ? rel : undefined));
  return found;
}

/** Raw statements arrive numbered ($1…) by the driver's dialect; knex.raw wants `?`. */
function asKnexRaw(sql: string, bindings: unknown[]): [string, any[]] {
  if (!/\$\d+/.test(sql)) return [sql, bindings as any[]];
  const ordered: unknown[] = [];
  const text = sql.replace(/\?/g, '\\?').replace(/\$(\d+)/g, (_, n) => (ordered.push(bindings[Number(n) - 1]), '?'));
  return [text, ordered as any[]];
}

/** "<scan>: <sql>" for every statement that reads a whole growing table or index. */
export async function wholeScanOffenders(db: Knex, statements: Iterable<Captured>, growing: Iterable<string> = GROWING_TABLES): Promise<string[]> {
  const tables = new Set(growing);
  const offenders: string[] = [];
  await db.transaction(async (trx) => {
    await trx.raw('set local enable_seqscan = off');
    for (const { sql, bindings } of statements) {
      const { rows } = await trx.raw(...asKnexRaw(`explain (format json) ${sql}`, bindings));
      const raw = rows[0]['QUERY PLAN'];
      const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw)[0].Plan as PlanNode;
      for (const scan of wholeScans(plan, tables)) offenders.push(`${scan}: ${sql}`);
    }
  });
  return offenders;
}
