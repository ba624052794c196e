import fs from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import { verifyBatchFile } from '../../src/payments/batchFile.ts';
import { listEvents } from '../../src/db/caseEvents.ts';
import { verifyChain } from '../../src/engine/audit.ts';
import { activeLeaves, resolve } from '../../src/engine/chart.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { ProcedureRegistry } from '../../src/engine/registry.ts';
import { loadedDefinitions } from '../../workflows/index.ts';
import type { Command } from './workload.ts';

export interface Verification {
  cases: number;
  events: number;
  userEvents: number;
  systemEvents: Record<string, number>;
  payments: number;
  /** Instruction lines in this run's batch files: one per payment. */
  batchLines: number;
  pendingTimers: number;
  liveTasks: number;
  /** Due warning timers the run added: each fired exactly once (one event) or was cancelled. */
  timers: { injected: number; fired: number; cancelled: number };
  /** Citizen notices: outbox rows written, taken by the dispatcher, and delivered to the sink. */
  notices: { written: number; taken: number; sent: number; sinkMessages: number };
  /** Acknowledged commands whose effect is missing or differs from the acknowledgement. */
  lost: string[];
  /** Commands applied more than once, events no command accounts for, payments made twice. */
  duplicated: string[];
  /** Every other broken invariant (audit chain, tasks vs. state, timers, API vs. SQL). */
  violations: string[];
}

const LIVE = ['open', 'claimed'];

/**
 * Checks the database after the run, directly in SQL (as the owner) and through the API:
 * acknowledged effects present, nothing applied twice, no double payment, audit chains, tasks
 * and timers consistent with each case's state. Every finding is a readable sentence.
 */
export async function verifyRun(db: Knex, cipher: PersonalDataCipher, commands: Command[], api?: { baseUrl: string; token: string }, injectedTimers: string[] = [], batchDir?: string): Promise<Verification> {
  const registry = new ProcedureRegistry(loadedDefinitions);
  const lost: string[] = [];
  const duplicated: string[] = [];
  const violations: string[] = [];
  const users = new Map<string, string>((await db('users').select('id', 'username')).map((u: any) => [u.username, u.id]));

  const cases = await db('cases').select('id', 'reference', 'procedure_id', 'definition_version', 'status', 'state_value', 'snapshot', 'version', 'chain_head');
  const caseById = new Map(cases.map((c: any) => [c.id, c]));
  const events = await db('case_events').select('id', 'case_id', 'seq', 'type', 'payload', 'actor_id');
  const eventAt = new Map<string, any>();
  for (const e of events) {
    const k = `${e.case_id}#${e.seq}`;
    if (eventAt.has(k)) duplicated.push(`case ${e.case_id} has two events at version ${e.seq}`);
    eventAt.set(k, e);
  }

  // Idempotency keys that committed: each names the one event its command wrote (its stored
  // response holds the case and the version after the command).
  const byKey = new Map(commands.map((c) => [`${users.get(c.user)}|${c.key}`, c]));
  const keyRows = await db('idempotency_keys').whereNotNull('status_code').select('user_id', 'key', 'response');
  const claimedBy = new Map<string, string>();
  for (const row of keyRows) {
    const cmd = byKey.get(`${row.user_id}|${row.key}`);
    if (!cmd) continue; // logins and other keys not ours
    const body = typeof row.response === 'string' ? JSON.parse(cipher.decrypt(row.response)) : row.response;
    const caseId = body?.caseId ?? body?.id;
    const at = `${caseId}#${body?.version}`;
    const e = eventAt.get(at);
    if (!e) lost.push(`command ${cmd.n} (${cmd.type}, key ${cmd.key}) committed but its event ${at} is missing`);
    else if (e.type !== cmd.type || e.actor_id !== users.get(cmd.user)) violations.push(`command ${cmd.n} (${cmd.type}) committed, but event ${at} is ${e.type} by ${e.actor_id}`);
    if (claimedBy.has(at)) duplicated.push(`event ${at} claimed by two commands (${claimedBy.get(at)}, ${cmd.key})`);
    claimedBy.set(at, cmd.key);
    if (cmd.ack && (cmd.ack.caseId !== caseId || cmd.ack.version !== body?.version)) {
      lost.push(`command ${cmd.n} acknowledged ${cmd.ack.caseId}@${cmd.ack.version} but committed ${at}`);
    }
  }

  // Every acknowledged command: its key committed and its event is there with the ack's version.
  const committed = new Set(keyRows.map((r: any) => `${r.user_id}|${r.key}`));
  for (const cmd of commands.filter((c) => c.ack)) {
    const e = eventAt.get(`${cmd.ack!.caseId}#${cmd.ack!.version}`);
    if (!committed.has(`${users.get(cmd.user)}|${cmd.key}`)) lost.push(`command ${cmd.n} (${cmd.type}) acknowledged but its idempotency key never committed`);
    if (!e || e.type !== cmd.type) lost.push(`command ${cmd.n} (${cmd.type}) acknowledged at ${cmd.ack!.caseId}@${cmd.ack!.version}, but the event there is ${e?.type ?? 'missing'}`);
  }
  for (const cmd of commands.filter((c) => c.kind === 'probe' && c.ack)) duplicated.push(`double-payment probe ${cmd.n} was accepted`);

  // Every event a person sent is accounted for by exactly one keyed command; the rest are the
  // engine's own (deadline timers, service duties).
  const systemEvents: Record<string, number> = {};
  let userEvents = 0;
  for (const e of events) {
    if (e.actor_id === null) {
      systemEvents[e.type] = (systemEvents[e.type] ?? 0) + 1;
      continue;
    }
    userEvents++;
    if (!claimedBy.has(`${e.case_id}#${e.seq}`)) duplicated.push(`event ${e.type} at ${e.case_id}@${e.seq} belongs to no committed command (applied without its key, or twice)`);
  }

  // Payments: at most one per case and month, one per payment event, one payment.requested each.
  const payments = await db('payments').select('id', 'case_id', 'period', 'event_id');
  const perMonth = new Map<string, number>();
  for (const p of payments) perMonth.set(`${p.case_id}|${p.period}`, (perMonth.get(`${p.case_id}|${p.period}`) ?? 0) + 1);
  for (const [k, n] of perMonth) if (n > 1) duplicated.push(`case|month ${k} paid ${n} times`);
  const payEvents = events.filter((e: any) => e.type === 'PAY_MONTH');
  if (payEvents.length !== payments.length) duplicated.push(`${payEvents.length} PAY_MONTH events but ${payments.length} payments`);
  const eventById = new Map(events.map((e: any) => [String(e.id), e]));
  for (const p of payments) {
    const e = eventById.get(String(p.event_id));
    if (!e || e.type !== 'PAY_MONTH' || e.case_id !== p.case_id || e.payload?.period !== p.period) violations.push(`payment ${p.id} (${p.case_id} ${p.period}) does not match its event ${p.event_id}`);
  }
  const requested = await db('outbox').where({ kind: 'payment.requested' }).select('case_id', 'payload');
  const requestedIds = requested.map((r: any) => String(r.payload.paymentId));
  if (new Set(requestedIds).size !== requestedIds.length) duplicated.push('a payment was requested twice in the outbox');
  if (requested.length !== payments.length) violations.push(`${payments.length} payments but ${requested.length} payment.requested outbox rows`);
  for (const cmd of commands.filter((c) => c.ack && c.type === 'PAY_MONTH')) {
    const period = (cmd.body as any).data.period;
    if (!perMonth.has(`${cmd.ack!.caseId}|${period}`)) lost.push(`PAY_MONTH ${cmd.n} acknowledged but ${cmd.ack!.caseId} ${period} has no payment`);
  }

  // Delivery (发放): every payment handed to the bank once — one instruction line, in one batch
  // file on disk, and the files' checksums hold.
  const delivered = await db('payments').select('id', 'status', 'round');
  const undelivered = delivered.filter((p: any) => p.status !== 'sent' && p.status !== 'paid');
  if (undelivered.length) violations.push(`${undelivered.length} payments not delivered (e.g. ${undelivered[0].id}: ${undelivered[0].status})`);
  const lineRows = await db('payment_batch_lines').select('payment_id', 'instruction_id');
  const linesPerPayment = new Map<string, number>();
  for (const l of lineRows) linesPerPayment.set(String(l.payment_id), (linesPerPayment.get(String(l.payment_id)) ?? 0) + 1);
  for (const [id, n] of linesPerPayment) if (n > 1) duplicated.push(`payment ${id} has ${n} batch lines`);
  let fileLines = 0;
  if (batchDir) {
    const inFiles = new Map<string, number>();
    for (const name of (await fs.readdir(batchDir)).filter((f) => f.endsWith('.csv'))) {
      const text = await fs.readFile(path.join(batchDir, name), 'utf8');
      if (!verifyBatchFile(text)) violations.push(`batch file ${name}: checksum does not match`);
      for (const line of text.split('\n').filter((l) => l.startsWith('D,'))) {
        const paymentId = line.split(',')[3];
        inFiles.set(paymentId, (inFiles.get(paymentId) ?? 0) + 1);
        fileLines++;
      }
    }
    for (const p of delivered) {
      const n = inFiles.get(String(p.id)) ?? 0;
      if (n !== 1) (n > 1 ? duplicated : lost).push(`payment ${p.id} is in the batch files ${n} times`);
    }
  }

  // Due timers fired by the worker across kills: exactly once each (the event names its timer).
  const injected = injectedTimers.length ? await db('timers').whereIn('id', injectedTimers).select('id', 'status') : [];
  const firings = new Map<string, number>();
  for (const e of events) if (e.payload?.timerId !== undefined) firings.set(String(e.payload.timerId), (firings.get(String(e.payload.timerId)) ?? 0) + 1);
  for (const t of injected) {
    const n = firings.get(String(t.id)) ?? 0;
    if (t.status === 'fired' && n !== 1) (n > 1 ? duplicated : lost).push(`timer ${t.id} fired but logged ${n} events`);
    if (t.status === 'cancelled' && n !== 0) violations.push(`timer ${t.id} cancelled but logged ${n} events`);
    if (t.status === 'pending' || t.status === 'failed') violations.push(`due timer ${t.id} still ${t.status} after the run`);
  }
  const timerSummary = { injected: injected.length, fired: injected.filter((t: any) => t.status === 'fired').length, cancelled: injected.filter((t: any) => t.status === 'cancelled').length };

  // Citizen notices ride the same outbox: every row the dispatcher marked processed has its
  // notice, and no notice reached the (development) gateway twice, kills or not.
  const noticeRows = await db('outbox').where('kind', 'like', 'notice.%').select('id', 'processed_at');
  const notices = await db('notices').select('id', 'outbox_id', 'status');
  const noticeOf = new Set(notices.map((n: any) => String(n.outbox_id)));
  for (const o of noticeRows) if (o.processed_at && !noticeOf.has(String(o.id))) lost.push(`notice outbox row ${o.id} marked processed but no notice was made of it`);
  const sink = await db('notice_sink_messages').select('notice_id');
  const sinkPer = new Map<string, number>();
  for (const m of sink) sinkPer.set(String(m.notice_id), (sinkPer.get(String(m.notice_id)) ?? 0) + 1);
  for (const [id, n] of sinkPer) if (n > 1) duplicated.push(`notice ${id} delivered ${n} times`);
  const noticeSummary = { written: noticeRows.length, taken: notices.length, sent: notices.filter((n: any) => n.status === 'sent').length, sinkMessages: sink.length };

  // Versions and audit chains (the code behind npm run audit:verify).
  for (const c of cases) {
    const chain = verifyChain(await listEvents(db, c.id), c.chain_head);
    if (!chain.valid) violations.push(`audit chain of ${c.reference} broken at seq ${chain.firstBroken!.seq}: ${chain.firstBroken!.reason}`);
    if (chain.events !== c.version) violations.push(`${c.reference}: version ${c.version} but ${chain.events} events`);
  }

  // Live tasks = the task states of the snapshot (as the engine derives them); timers for each.
  const liveTasks = await db('tasks').whereIn('status', LIVE).select('id', 'case_id', 'state_id', 'due_at', 'escalation');
  const pending = await db('timers').where({ status: 'pending' }).select('id', 'case_id', 'task_id', 'state_id', 'kind', 'due_at');
  const tasksOf = group(liveTasks, (t) => t.case_id);
  const timersOf = group(pending, (t) => t.case_id);
  for (const c of cases) {
    const def = registry.pinned(c.procedure_id, c.definition_version);
    const leaves = c.status === 'running' ? activeLeaves(resolve(def, c.snapshot)).filter((l) => !l.final) : [];
    const expected = leaves.filter((l) => l.meta.task).map((l) => l.stateId).sort();
    const chartTasks = (tasksOf.get(c.id) ?? []).filter((t: any) => !String(t.state_id).startsWith('service.'));
    const actual = chartTasks.map((t: any) => t.state_id).sort();
    if (JSON.stringify(expected) !== JSON.stringify(actual)) violations.push(`${c.reference}: live tasks ${JSON.stringify(actual)} but the state asks for ${JSON.stringify(expected)}`);
    if (JSON.stringify(c.state_value) !== JSON.stringify(c.snapshot.value)) violations.push(`${c.reference}: state_value differs from the snapshot`);
    const caseTimers = timersOf.get(c.id) ?? [];
    const liveIds = new Set((tasksOf.get(c.id) ?? []).map((t: any) => t.id));
    for (const t of chartTasks) {
      if (!t.due_at) continue;
      const kinds = new Set(caseTimers.filter((x: any) => x.task_id === t.id).map((x: any) => x.kind));
      const need = [t.escalation === 'none' && 'warn', !['overdue', 'red'].includes(t.escalation) && 'overdue', t.escalation !== 'red' && 'red'].filter(Boolean) as string[];
      for (const k of need) if (!kinds.has(k)) violations.push(`${c.reference}: task ${t.state_id} is due ${t.due_at.toISOString()} but has no pending ${k} timer`);
    }
    const activeIds = new Set(leaves.map((l) => l.stateId));
    for (const l of leaves.filter((l) => l.meta.timer)) {
      if (!caseTimers.some((x: any) => x.kind === 'state' && x.state_id === l.stateId)) violations.push(`${c.reference}: state ${l.stateId} has a time limit but no pending timer`);
    }
    for (const x of caseTimers) {
      if (x.task_id && !liveIds.has(x.task_id)) violations.push(`${c.reference}: pending ${x.kind} timer ${x.id} for a task that is closed`);
      // Service duties (好差评 invitations, service.*) schedule their own timers outside the chart.
      if (!x.task_id && !String(x.state_id).startsWith('service.') && !activeIds.has(x.state_id)) violations.push(`${c.reference}: pending state timer ${x.id} for ${x.state_id}, which is not active`);
    }
  }

  // The API agrees with the tables: version, payments and open tasks of every case.
  // (Skipped when no service is running, e.g. re-checking a kept database.)
  const viewFailures = await mapLimit(api ? cases : [], 8, async (c: any) => {
    const res = await fetch(`${api!.baseUrl}/api/cases/${c.id}`, { headers: { authorization: `Bearer ${api!.token}` } });
    if (res.status !== 200) return `GET /api/cases/${c.id}: ${res.status}`;
    const view: any = await res.json();
    const paid = payments.filter((p: any) => p.case_id === c.id).map((p: any) => p.period).sort();
    const open = (tasksOf.get(c.id) ?? []).map((t: any) => t.id).sort();
    if (view.version !== c.version) return `${c.reference}: API version ${view.version}, table ${c.version}`;
    if (JSON.stringify(view.payments.map((p: any) => p.period).sort()) !== JSON.stringify(paid)) return `${c.reference}: API payments differ from the table`;
    if (JSON.stringify(view.openTasks.map((t: any) => t.id).sort()) !== JSON.stringify(open)) return `${c.reference}: API open tasks differ from the table`;
    if (view.history.length !== c.version) return `${c.reference}: API history has ${view.history.length} entries, version ${c.version}`;
    return null;
  });
  violations.push(...viewFailures.filter((v): v is string => v !== null));
  for (const id of new Set(commands.filter((c) => c.ack).map((c) => c.ack!.caseId))) if (!caseById.has(id)) lost.push(`acknowledged case ${id} does not exist`);

  return { cases: cases.length, events: events.length, userEvents, systemEvents, payments: payments.length, batchLines: fileLines, pendingTimers: pending.length, liveTasks: liveTasks.length, timers: timerSummary, notices: noticeSummary, lost, duplicated, violations };
}

function group<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(r);
  }
  return m;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}
