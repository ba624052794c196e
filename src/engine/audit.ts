import { createHash } from 'node:crypto';

/**
 * The tamper-evident event log. Each event row carries `hash = SM3(canonical content ‖ prev_hash)`
 * and the previous row's hash, so editing, inserting or removing a row breaks the chain from that
 * row on. SM3 (GB/T 32905-2016) rather than SHA-256: it is the hash the 商用密码 rules expect of
 * government systems (密评), it is as strong for this purpose, and Node's OpenSSL provides it.
 */
export const HASH_ALGORITHM = 'sm3';

export interface ChainedContent {
  case_id: string;
  seq: number;
  type: string;
  payload: unknown;
  actor_id: string | null;
  actor_name: string | null;
  from_state: unknown;
  to_state: unknown;
  occurred_at: Date;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value as object)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

export function eventHash(row: ChainedContent, prevHash: string | null): string {
  const content = canonicalJson({
    caseId: row.case_id,
    seq: row.seq,
    type: row.type,
    payload: row.payload,
    actorId: row.actor_id,
    actorName: row.actor_name,
    fromState: row.from_state,
    toState: row.to_state,
    occurredAt: new Date(row.occurred_at).toISOString(),
  });
  return createHash(HASH_ALGORITHM).update(content).update('\n').update(prevHash ?? '').digest('hex');
}

export interface ChainCheck {
  valid: boolean;
  events: number;
  firstBroken: null | { seq: number; id: string; reason: string };
}

/** Recomputes a case's chain and names the first row that does not fit. */
export function verifyChain(rows: Array<ChainedContent & { id: string; prev_hash: string | null; hash: string | null }>, chainHead: string | null): ChainCheck {
  let prev: string | null = null;
  for (const [i, row] of rows.entries()) {
    const broken = (reason: string): ChainCheck => ({ valid: false, events: rows.length, firstBroken: { seq: row.seq, id: String(row.id), reason } });
    if (row.seq !== i + 1) return broken(`sequence gap: expected seq ${i + 1}`);
    if (row.prev_hash !== prev) return broken('prev_hash does not match the previous row');
    if (row.hash !== eventHash(row, prev)) return broken('content does not match its hash');
    prev = row.hash;
  }
  if (prev !== chainHead) {
    const last = rows.at(-1);
    return { valid: false, events: rows.length, firstBroken: { seq: (last?.seq ?? 0) + 1, id: '', reason: 'the case’s chain head does not match its last event: events were removed' } };
  }
  return { valid: true, events: rows.length, firstBroken: null };
}
