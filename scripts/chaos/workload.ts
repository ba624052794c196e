import { randomUUID } from 'node:crypto';
import { ProcedureRegistry } from '../../src/engine/registry.ts';
import { loadedDefinitions } from '../../workflows/index.ts';

/** A small seeded PRNG (mulberry32): the same --seed gives the same decisions and kill moments. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type CommandKind = 'open' | 'complete' | 'probe';

/** One mutating command: one Idempotency-Key, sent (and re-sent unchanged) until it is answered. */
export interface Command {
  n: number;
  client: number;
  kind: CommandKind;
  user: string;
  key: string;
  url: string;
  body: unknown;
  type: string;
  caseId?: string;
  expectedVersion?: number;
  /** Sends beyond the first (same key, same body). */
  retries: number;
  /** Final answer. */
  status?: number;
  code?: string;
  /** Answered 2xx: the acknowledgement the client relies on. */
  ack?: { caseId: string; version: number; replayed: boolean };
  /** The run ended with no answer to it (after the grace period). */
  unanswered?: boolean;
}

export interface Stats {
  sent: number;
  attempts: number;
  acked: number;
  /** Re-sends of the same request after no answer (connection refused/reset, timeout). */
  retriedNoAnswer: number;
  /** Re-sends after 503 / 409 CASE_BUSY / 429 (nothing or an unknown outcome: same key). */
  retriedRefused: number;
  /** 2xx answers that were replays of a committed command (Idempotency-Replayed). */
  replays: number;
  /** 409 VERSION_CONFLICT: re-read and re-decided as a new command. */
  conflicts: number;
  /** Attempts to pay a month already paid, with a fresh key: must be refused. */
  doublePayProbes: number;
  doublePayRefused: number;
  casesOpened: number;
  casesFinished: number;
  /** Answers nobody expects (5xx other than 503, unexpected 4xx): each is a violation. */
  unexpected: Array<{ n: number; status: number; body: string }>;
}

export const newStats = (): Stats => ({
  sent: 0, attempts: 0, acked: 0, retriedNoAnswer: 0, retriedRefused: 0, replays: 0, conflicts: 0,
  doublePayProbes: 0, doublePayRefused: 0, casesOpened: 0, casesFinished: 0, unexpected: [],
});

const APPLICANT = { name: '混沌测试', idNumber: '11010519491231002X', phone: '13800138000', bankCard: '6222020200112233445' };
const PERIODS = ['2026-04', '2026-05'];
const REGION_USERS: Record<string, Record<string, string>> = {
  '330106001': { 'township-window': 'clerk.beishan', 'township-civil-affairs': 'township.beishan' },
  '330106002': { 'township-window': 'clerk.xixi', 'township-civil-affairs': 'township.xixi' },
};
const COUNTY_USERS: Record<string, string> = { 'county-verification': 'verify.xihu', 'county-civil-affairs': 'county.xihu', 'medical-insurance': 'medical.xihu' };
/** Every user the workload acts as; a supervisor reads cases (they see every case of the county). */
export const WORKLOAD_USERS = ['clerk.beishan', 'clerk.xixi', 'township.beishan', 'township.xixi', 'verify.xihu', 'county.xihu', 'medical.xihu', 'supervisor.xihu'];
const READER = 'supervisor.xihu';

export interface WorkloadContext {
  baseUrl: () => string;
  tokens: Map<string, string>;
  stats: Stats;
  commands: Command[];
  /** True once the load phase is over: clients finish the command in hand and stop. */
  stopping: () => boolean;
  /** After this instant, a command still unanswered is given up (recorded as unanswered). */
  giveUpAt: () => number;
  /** Called for every 2xx answer to a command (recovery measurements). */
  onAck: (sentAt: number, answeredAt: number, client: number) => void;
  /** Called for every answer (any status) with its start instant. */
  onAnswer?: (sentAt: number, answeredAt: number, status: number) => void;
}

interface Answer {
  status: number;
  json: any;
  text: string;
  replayed: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One HTTP request; `null` when no answer came (refused, reset, timed out). */
async function request(ctx: WorkloadContext, user: string, method: 'GET' | 'POST', url: string, body?: unknown, key?: string): Promise<(Answer & { retryAfter: number }) | null> {
  const headers: Record<string, string> = { authorization: `Bearer ${ctx.tokens.get(user)}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers['idempotency-key'] = key;
  try {
    const res = await fetch(ctx.baseUrl() + url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, json, text, replayed: res.headers.get('idempotent-replayed') === 'true', retryAfter: Number(res.headers.get('retry-after') ?? 1) };
  } catch {
    return null;
  }
}

/**
 * Sends a command until it is answered with something final: no answer, 503, 429 or 409
 * CASE_BUSY mean "not known to have happened", so the SAME request goes again with the SAME key.
 */
async function send(ctx: WorkloadContext, cmd: Command): Promise<Answer | null> {
  ctx.commands.push(cmd);
  ctx.stats.sent++;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) cmd.retries++;
    ctx.stats.attempts++;
    const sentAt = performance.now();
    const res = await request(ctx, cmd.user, 'POST', cmd.url, cmd.body, cmd.key);
    const answeredAt = performance.now();
    if (res) ctx.onAnswer?.(sentAt, answeredAt, res.status);
    const again = !res || res.status === 503 || res.status === 429 || (res.status === 409 && res.json?.code === 'CASE_BUSY');
    if (!again) {
      cmd.status = res.status;
      cmd.code = res.json?.code;
      if (res.status >= 200 && res.status < 300) {
        ctx.onAck(sentAt, answeredAt, cmd.client);
        ctx.stats.acked++;
        if (res.replayed) ctx.stats.replays++;
        const b = res.json;
        cmd.ack = { caseId: b.caseId ?? b.id, version: b.version, replayed: res.replayed };
      }
      return res;
    }
    if (performance.now() > ctx.giveUpAt()) {
      cmd.unanswered = true;
      return null;
    }
    if (!res) ctx.stats.retriedNoAnswer++;
    else ctx.stats.retriedRefused++;
    await sleep(res ? Math.min(1_000, Math.max(50, res.retryAfter * 250)) : 100 + Math.floor(Math.random() * 150));
  }
}

/** A read, retried until it is answered 200 (reads change nothing). */
async function read(ctx: WorkloadContext, url: string): Promise<any | null> {
  for (;;) {
    const res = await request(ctx, READER, 'GET', url);
    if (res?.status === 200) return res.json;
    if (res && res.status !== 503 && res.status !== 429) throw new Error(`GET ${url}: ${res.status} ${res.text.slice(0, 300)}`);
    if (performance.now() > ctx.giveUpAt()) return null;
    await sleep(100);
  }
}

let counter = 0;
function command(client: number, kind: CommandKind, user: string, url: string, body: unknown, type: string, caseId?: string, expectedVersion?: number): Command {
  return { n: ++counter, client, kind, user, key: `chaos-${client}-${randomUUID()}`, url, body, type, caseId, expectedVersion, retries: 0 };
}

function userFor(task: { department: string; regionCode: string }): string | undefined {
  return REGION_USERS[task.regionCode]?.[task.department] ?? COUNTY_USERS[task.department];
}

const registry = new ProcedureRegistry(loadedDefinitions);

/**
 * The events the task's holder may send: its chart state's `meta.task.actions` (a view lists
 * only what the *reader* may do, and the reader here is a supervisor).
 */
function holderActions(view: any, task: any): string[] {
  const def = registry.pinned(view.procedureId, view.definitionVersion);
  return ((def.machine as any).idMap.get(task.stateId)?.meta as any)?.task?.actions ?? [];
}

/** What a clerk or reviewer would decide on this task now (seeded), with the event's data. */
function decide(random: () => number, task: any, view: any, flags: { supplemented: boolean; objected: boolean }): { type: string; data: object } | null {
  const actions = new Set<string>(holderActions(view, task));
  const paid = new Set<string>(view.payments.map((p: any) => p.period));
  if (actions.has('ACCEPT')) {
    if (!flags.supplemented && actions.has('REQUEST_SUPPLEMENT') && random() < 0.15) return { type: 'REQUEST_SUPPLEMENT', data: { missingMaterials: ['income-declaration'] } };
    return { type: 'ACCEPT', data: {} };
  }
  if (actions.has('SUPPLEMENT_RECEIVED')) return { type: 'SUPPLEMENT_RECEIVED', data: {} };
  if (actions.has('VERIFICATION_COMPLETED')) return { type: 'VERIFICATION_COMPLETED', data: { verifiedMonthlyIncomeFen: 100000, propertyWithinLimit: true } };
  if (actions.has('HOME_VISIT_COMPLETED')) return { type: 'HOME_VISIT_COMPLETED', data: { visitors: ['陈刚', '刘洋'], findings: '情况属实' } };
  if (actions.has('PRELIMINARY_APPROVE')) return { type: 'PRELIMINARY_APPROVE', data: { proposedMonthlyAmountFen: 90000 } };
  if (actions.has('PUBLIC_NOTICE_ENDED')) {
    if (!flags.objected && actions.has('OBJECTION_RAISED') && random() < 0.15) return { type: 'OBJECTION_RAISED', data: { details: '群众反映情况，重新调查' } };
    return { type: 'PUBLIC_NOTICE_ENDED', data: {} };
  }
  if (actions.has('APPROVE')) {
    if (actions.has('REFUSE') && random() < 0.1) return { type: 'REFUSE', data: { reason: '家庭财产超过当地规定标准' } };
    return { type: 'APPROVE', data: { monthlyAmountFen: 90000, startMonth: PERIODS[0] } };
  }
  if (actions.has('PAY_MONTH')) {
    const period = PERIODS.find((p) => !paid.has(p));
    return period ? { type: 'PAY_MONTH', data: { period } } : null;
  }
  return null;
}

/**
 * One client: opens a 低保 case at a window, then works every open task of it as the department
 * that holds it — the parallel investigation tasks at once, with the same expectedVersion, so one
 * of them meets a version conflict and is re-decided — until two months are paid (or it is refused),
 * then opens the next case.
 */
export async function runClient(ctx: WorkloadContext, client: number, seed: number): Promise<void> {
  const random = rng(seed * 7919 + client);
  const clerk = client % 2 === 0 ? 'clerk.beishan' : 'clerk.xixi';
  while (!ctx.stopping()) {
    const open = command(client, 'open', clerk, '/api/cases', {
      procedureId: 'social-assistance',
      applicant: APPLICANT,
      application: { householdSize: 1 + Math.floor(random() * 4), monthlyHouseholdIncomeFen: 120000, reason: `混沌测试 客户端${client}` },
    }, 'CASE_OPENED');
    const opened = await send(ctx, open);
    if (!opened) return;
    if (!open.ack) {
      ctx.stats.unexpected.push({ n: open.n, status: opened.status, body: opened.text.slice(0, 300) });
      return;
    }
    ctx.stats.casesOpened++;
    await driveCase(ctx, client, random, open.ack.caseId);
  }
}

async function driveCase(ctx: WorkloadContext, client: number, random: () => number, caseId: string): Promise<void> {
  const flags = { supplemented: false, objected: false };
  for (let step = 0; step < 60 && !ctx.stopping(); step++) {
    const view = await read(ctx, `/api/cases/${caseId}`);
    if (!view) return;
    if (view.status === 'done') {
      ctx.stats.casesFinished++;
      return;
    }
    const planned = view.openTasks
      .map((task: any) => ({ task, user: userFor(task), decision: decide(random, task, view, flags) }))
      .filter((p: any) => p.user && p.decision);
    if (planned.length === 0) {
      ctx.stats.casesFinished++;
      return;
    }
    // Every open task at once, each on the version just read: parallel branches race.
    const answers = await Promise.all(planned.map(async ({ task, user, decision }: any) => {
      if (decision.type === 'REQUEST_SUPPLEMENT') flags.supplemented = true;
      if (decision.type === 'OBJECTION_RAISED') flags.objected = true;
      const cmd = command(client, 'complete', user, `/api/tasks/${task.id}/complete`, { outcome: decision.type, data: decision.data, expectedVersion: view.version }, decision.type, caseId, view.version);
      const res = await send(ctx, cmd);
      return { cmd, res };
    }));
    for (const { cmd, res } of answers) {
      if (!res) return;
      if (res.status === 409 && (res.json?.code === 'VERSION_CONFLICT' || res.json?.code === 'TASK_NOT_OPEN')) ctx.stats.conflicts++;
      else if (!cmd.ack) ctx.stats.unexpected.push({ n: cmd.n, status: res.status, body: res.text.slice(0, 300) });
      else if (cmd.type === 'PAY_MONTH' && random() < 0.3) await probeDoublePay(ctx, client, cmd, caseId);
    }
  }
}

/** Pays the month just paid once more, as a new command: the engine must refuse it. */
async function probeDoublePay(ctx: WorkloadContext, client: number, paid: Command, caseId: string): Promise<void> {
  const body = paid.body as { outcome: string; data: object };
  const probe = command(client, 'probe', paid.user, paid.url, { ...body, expectedVersion: paid.ack!.version }, 'PAY_MONTH', caseId, paid.ack!.version);
  ctx.stats.doublePayProbes++;
  const res = await send(ctx, probe);
  if (!res) return;
  if (res.status === 409) ctx.stats.doublePayRefused++;
  else ctx.stats.unexpected.push({ n: probe.n, status: res.status, body: res.text.slice(0, 300) });
}

/** Logs every workload user in once (login is rate-limited per address; sessions outlive restarts). */
export async function loginAll(baseUrl: string, password: string): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (const username of WORKLOAD_USERS) {
    const res = await fetch(`${baseUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    const body: any = await res.json();
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(body)}`);
    tokens.set(username, body.token);
  }
  return tokens;
}
