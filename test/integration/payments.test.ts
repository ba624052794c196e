import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import type { Actor } from '../../src/engine/engine.ts';
import { verifyChain } from '../../src/engine/audit.ts';
import { hashPassword } from '../../src/identity.ts';
import { upsertRegion } from '../../src/db/regions.ts';
import { upsertUser } from '../../src/db/users.ts';
import { DEMO_PASSWORD } from '../../src/seed.ts';
import { BatchFileAdapter, HttpPaymentGateway, type PaymentAdapter } from '../../src/payments/adapters.ts';
import { verifyBatchFile, yuan } from '../../src/payments/batchFile.ts';
import { PaymentDeliverer, RETRY_SCHEDULE_MS } from '../../src/payments/deliverer.ts';
import { applicant, application, useTestApp } from '../support/app.ts';
import { FakeBankGateway } from '../support/bankGateway.ts';

// Payment delivery (发放, issue 10; docs/payments.md): the deliverer hands each payment.requested
// to an adapter once in effect — a batch file line per instruction, a gateway that dedupes on the
// instruction id — the bank's result file marks payments paid or failed, a failure is corrected by
// the township window and re-sent as the SAME payment, and what keeps failing becomes an incident.
const ctx = useTestApp();
const db = () => ctx.database.db;
const bank = new FakeBankGateway();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ow-batches-'));
const logs: string[] = [];
const log = (msg: string, extra?: object) => logs.push(JSON.stringify({ msg, ...extra }));

beforeAll(async () => {
  await bank.start();
  await upsertRegion(db(), { code: '330105', name: '拱墅区（演示）', parent_code: null, settings: {} });
  await upsertUser(db(), { id: randomUUID(), username: 'admin.gongshu', password_hash: await hashPassword(DEMO_PASSWORD), display_name: '拱墅区系统管理员', region_code: '330105', department: 'administration', roles: ['admin'] });
});
afterAll(async () => {
  await bank.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  bank.reset();
  // Each test sees only its own payments: earlier leftovers leave the queue.
  await db()('outbox').whereNull('processed_at').andWhere({ kind: 'payment.requested' }).update({ processed_at: ctx.clock.now() });
  await db()('payments').where({ status: 'requested' }).update({ status: 'abandoned' });
});

const actor = async (username: string): Promise<Actor> => {
  const u = await db()('users').where({ username }).first();
  return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
};

/** A 低保 case of 西溪 (a delegated region) approved at `amountFen` a month, paid for `periods`. */
async function paidCase(periods: string[], amountFen = 60000, who: Partial<typeof applicant> = {}) {
  const engine = ctx.engine;
  // One connection on PGlite: look the actor up before the transaction.
  const send = async (user: string, id: string, type: string, data: object = {}) => {
    const who = await actor(user);
    return db().transaction((t) => engine.sendEvent(t, who, id, { type, data }));
  };
  const clerk = await actor('clerk.xixi');
  const { id, reference } = await db().transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant: { ...applicant, ...who }, application }));
  await send('clerk.xixi', id, 'ACCEPT');
  await send('verify.xihu', id, 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 0, propertyWithinLimit: true });
  await send('township.xixi', id, 'HOME_VISIT_COMPLETED', { visitors: ['周丽', '马超'], findings: '属实' });
  await send('township.xixi', id, 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: amountFen });
  await send('township.xixi', id, 'PUBLIC_NOTICE_ENDED');
  await send('township.xixi', id, 'APPROVE', { monthlyAmountFen: amountFen, startMonth: periods[0] });
  for (const period of periods) await send('county.xihu', id, 'PAY_MONTH', { period });
  const rows = await db()('payments').where({ case_id: id }).orderBy('id');
  return { id, reference: reference as string, paymentIds: rows.map((r) => String(r.id)) };
}

const batchAdapter = () => new BatchFileAdapter({ db: db(), cipher: ctx.engine.cipher, dir, clock: ctx.clock.now });
const gatewayAdapter = () => new HttpPaymentGateway({ url: bank.url, token: 'bank-secret', timeoutMs: 2000 });
const deliverer = (adapter: PaymentAdapter, o: Partial<ConstructorParameters<typeof PaymentDeliverer>[0]> = {}) =>
  new PaymentDeliverer({ db: db(), engine: ctx.engine, adapter, leaseMs: 60_000, log, ...o });

const payment = async (id: string) => db()('payments').where({ id }).first();
const batchText = async (paymentId: string) => {
  const row = await db()('payment_batches').where({ id: (await payment(paymentId)).batch_id }).first();
  return fs.readFileSync(path.join(dir, row.file_name), 'utf8');
};
async function chainOf(caseId: string) {
  const events = await db()('case_events').where({ case_id: caseId }).orderBy('seq');
  const c = await db()('cases').where({ id: caseId }).first();
  return { events, check: verifyChain(events, c.chain_head) };
}

describe('the batch file (一卡通 社会化发放)', () => {
  it('has a header, one line per payment with the full card, totals and a SHA-256 checksum line; the log holds no card', async () => {
    const a = await paidCase(['2026-04', '2026-05'], 60050);
    const b = await paidCase(['2026-04'], 98000, { name: '李四,"小"', bankCard: '6217000011112222333' });
    const r = await deliverer(batchAdapter()).runOnce();
    expect(r).toMatchObject({ taken: 3, claimed: 3, sent: 3 });
    const ids = [...a.paymentIds, ...b.paymentIds];
    for (const id of ids) expect(await payment(id)).toMatchObject({ status: 'sent', channel: 'batch-file', attempts: 1, round: 1 });

    const text = await batchText(ids[0]);
    expect(verifyBatchFile(text)).toBe(true);
    const lines = text.trimEnd().split('\n');
    const batch = await db()('payment_batches').where({ id: (await payment(ids[0])).batch_id }).first();
    expect(batch.file_name).toBe('YKT-SHFF-330106002-202603.csv');
    expect(lines[0]).toMatch(new RegExp(`^H,YKT-SHFF,1\\.0,330106002,202603,${batch.id},2026-03-02T`));
    const data = lines.filter((l) => l.startsWith('D,'));
    expect(data).toEqual([
      `D,1,${ids[0]}-1,${ids[0]},${a.reference},张三丰,${applicant.bankCard},600.50,2026-04,最低生活保障（低保）`,
      `D,2,${ids[1]}-1,${ids[1]},${a.reference},张三丰,${applicant.bankCard},600.50,2026-05,最低生活保障（低保）`,
      `D,3,${ids[2]}-1,${ids[2]},${b.reference},"李四,""小""",6217000011112222333,980.00,2026-04,最低生活保障（低保）`,
    ]);
    expect(lines.at(-2)).toBe('T,3,2181.00');
    expect(lines.at(-1)).toMatch(/^S,SHA-256,[0-9a-f]{64}$/);
    expect(batch).toMatchObject({ line_count: 3, sha256: lines.at(-1)!.slice('S,SHA-256,'.length) });
    expect(Number(batch.total_fen)).toBe(218100);
    // Tampering shows.
    expect(verifyBatchFile(text.replace('600.50', '900.50'))).toBe(false);
    // Sealed in the database, never in a log.
    const stored = await db()('payment_batch_lines').where({ payment_id: ids[2] }).first();
    expect(stored.bank_card).toMatch(/^enc:v1:/);
    expect(logs.join('\n')).not.toContain(applicant.bankCard);
    expect(yuan(5)).toBe('0.05');
  });

  it('the same payment delivered twice (a deliverer dying after the file was written) is one line in one file', async () => {
    const c = await paidCase(['2026-04']);
    const [id] = c.paymentIds;
    const crash = new Error('killed after the adapter accepted');
    const first = deliverer(batchAdapter(), { afterSend: () => Promise.reject(crash) });
    await expect(first.runOnce()).rejects.toBe(crash);
    expect(await payment(id)).toMatchObject({ status: 'requested', attempts: 1 });
    // Another deliverer: not before the lease runs out, then once.
    const second = deliverer(batchAdapter());
    expect(await second.runOnce()).toMatchObject({ claimed: 0 });
    ctx.clock.advance(61_000);
    expect(await second.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(await payment(id)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(await db()('payment_batch_lines').where({ payment_id: id })).toHaveLength(1);
    const text = await batchText(id);
    expect(text.split('\n').filter((l) => l.includes(`,${id}-1,`))).toHaveLength(1);
    expect(verifyBatchFile(text)).toBe(true);
  });
});

describe('the HTTP gateway', () => {
  it('sends the instruction id as the idempotency key, retries on the back-off schedule, and pays once', async () => {
    const c = await paidCase(['2026-04'], 98000);
    const [id] = c.paymentIds;
    bank.respond = (_r, n) => (n <= 2 ? { status: 503 } : { status: 200 });
    const d = deliverer(gatewayAdapter());
    expect(await d.runOnce()).toMatchObject({ claimed: 1, retrying: 1 });
    let p = await payment(id);
    expect(new Date(p.next_attempt_at).getTime() - ctx.clock.now().getTime()).toBe(RETRY_SCHEDULE_MS[0]);
    expect(p.last_error).toContain('HTTP 503');
    ctx.clock.advance(RETRY_SCHEDULE_MS[0]);
    expect(await d.runOnce()).toMatchObject({ retrying: 1 });
    ctx.clock.advance(RETRY_SCHEDULE_MS[1]);
    expect(await d.runOnce()).toMatchObject({ sent: 1 });
    p = await payment(id);
    expect(p).toMatchObject({ status: 'sent', attempts: 3, channel: 'http-gateway', bank_reference: `BK-${id}-1` });
    expect(bank.requests).toHaveLength(3);
    expect(new Set(bank.requests.map((r) => r.idempotencyKey))).toEqual(new Set([`${id}-1`]));
    expect(bank.paid.size).toBe(1);
    expect(bank.requests[0].authorization).toBe('Bearer bank-secret');
    expect(bank.requests[0].body).toMatchObject({ instructionId: `${id}-1`, paymentId: id, amountFen: 98000, amount: '980.00', period: '2026-04', bankCard: applicant.bankCard, reference: c.reference });
  });

  it('a crash after the gateway accepted: the retry carries the same key and the bank pays once', async () => {
    const c = await paidCase(['2026-04']);
    const [id] = c.paymentIds;
    await expect(deliverer(gatewayAdapter(), { afterSend: () => Promise.reject(new Error('killed')) }).runOnce()).rejects.toThrow('killed');
    ctx.clock.advance(61_000);
    expect(await deliverer(gatewayAdapter()).runOnce()).toMatchObject({ sent: 1 });
    expect(bank.requests).toHaveLength(2);
    expect(bank.paid.size).toBe(1);
    expect(await payment(id)).toMatchObject({ status: 'sent' });
  });

  it('a 4xx is not retried: the payment becomes an incident at once, with an error that does not hold the card', async () => {
    const c = await paidCase(['2026-04']);
    bank.respond = (r) => ({ status: 422, body: { error: `account ${r.body.bankCard} refused` } });
    expect(await deliverer(gatewayAdapter()).runOnce()).toMatchObject({ incidents: 1 });
    const p = await payment(c.paymentIds[0]);
    expect(p).toMatchObject({ status: 'incident', attempts: 1 });
    expect(p.last_error).toContain('HTTP 422');
    expect(p.last_error).not.toContain(applicant.bankCard);
    expect(bank.requests).toHaveLength(1);
  });
});

const csv = (...rows: string[]) => ['指令编号,结果,银行流水号,失败原因', ...rows].join('\r\n') + '\r\n';

describe('reconciliation, correction and incidents over HTTP', () => {
  it('imports the result file: paid, failed (→ correction task), unknown and malformed lines; the same file again is a no-op', async () => {
    const ok = await paidCase(['2026-04']);
    const bad = await paidCase(['2026-04']);
    const notSent = await paidCase(['2026-04']);
    await deliverer(batchAdapter()).runOnce();
    await db()('payments').where({ id: notSent.paymentIds[0] }).update({ status: 'requested', next_attempt_at: new Date('2030-01-01') });
    const admin = await ctx.as('admin.xihu');
    const content = csv(`${ok.paymentIds[0]}-1,成功,B001,`, `${bad.paymentIds[0]}-1,失败,,账户已销户`, '999999-1,成功,B002,', 'x-1,成功,,', `${ok.paymentIds[0]}-1,成功,B001,`, `${notSent.paymentIds[0]}-1,成功,B003,`, `${bad.paymentIds[0]}-2,成功,,`);
    const res = await admin.post('/api/admin/payments/reconciliations', { fileName: 'HZ-20260302.csv', content });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.duplicate).toBe(false);
    expect(body.counts).toEqual({ paid: 1, failed: 1, unchanged: 0, error: 5 });
    expect(body.lines.map((l: any) => [l.line, l.outcome])).toEqual([[2, 'paid'], [3, 'failed'], [4, 'error'], [5, 'error'], [6, 'error'], [7, 'error'], [8, 'error']]);
    expect(body.lines[2].message).toBe('未找到该发放指令');
    expect(body.lines[4].message).toContain('重复');
    expect(body.lines[5].message).toContain('尚未发出');
    expect(await payment(ok.paymentIds[0])).toMatchObject({ status: 'paid', bank_reference: 'B001' });
    expect(await payment(bad.paymentIds[0])).toMatchObject({ status: 'failed', failure_reason: '账户已销户' });

    for (const c of [ok, bad]) expect((await chainOf(c.id)).check.valid).toBe(true);
    const paidEvent = (await chainOf(ok.id)).events.at(-1);
    expect(paidEvent).toMatchObject({ type: 'PAYMENT_PAID', actor_name: '系统管理员' });
    const failedEvent = (await chainOf(bad.id)).events.at(-1);
    expect(failedEvent.type).toBe('PAYMENT_FAILED');
    expect(failedEvent.payload).toMatchObject({ reason: '账户已销户', paymentId: bad.paymentIds[0], instructionId: `${bad.paymentIds[0]}-1` });

    // The same file again changes nothing and answers the first result.
    const versions = await db()('cases').whereIn('id', [ok.id, bad.id]).select('id', 'version');
    const again = await admin.post('/api/admin/payments/reconciliations', { fileName: 'HZ-20260302.csv', content });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ duplicate: true, importId: body.importId, counts: body.counts });
    expect(await db()('cases').whereIn('id', [ok.id, bad.id]).select('id', 'version')).toEqual(versions);
    expect(await db()('tasks').where({ case_id: bad.id, state_id: 'service.paymentCorrection' })).toHaveLength(1);
    // A second file repeating a result is "unchanged".
    const repeat = await admin.post('/api/admin/payments/reconciliations', { content: csv(`${ok.paymentIds[0]}-1,paid,B001,`) });
    expect(repeat.json().lines[0]).toMatchObject({ outcome: 'unchanged' });
  });

  it('failed → 发放失败更正 in the township window’s 待办 → new card → the SAME payment re-sent → paid; one payments row', async () => {
    const c = await paidCase(['2026-04']);
    const [id] = c.paymentIds;
    await deliverer(batchAdapter()).runOnce();
    const admin = await ctx.as('admin.xihu');
    await admin.post('/api/admin/payments/reconciliations', { content: csv(`${id}-1,失败,,户名与账号不符`) });

    const clerk = await ctx.as('clerk.xixi');
    const view = (await clerk.get(`/api/cases/${c.id}`)).json();
    const task = view.openTasks.find((t: any) => t.actions.some((a: any) => a.type === 'PAYMENT_CORRECTED'));
    expect(task, JSON.stringify(view.openTasks)).toBeTruthy();
    expect(task.title).toBe('发放失败：更正账户并重新发放（2026-04）');
    const inbox = (await clerk.get('/api/tasks?pageSize=100')).json();
    expect(JSON.stringify(inbox)).toContain(task.id);
    // Another township's window does not hold it.
    const other = await ctx.as('clerk.beishan');
    expect((await other.post(`/api/tasks/${task.id}/complete`, { outcome: 'PAYMENT_CORRECTED', data: { bankCard: '6230000000000000001', note: '申请人更换银行卡' } })).statusCode).toBe(404);

    const newCard = '6230580000123456789';
    const done = await clerk.post(`/api/tasks/${task.id}/complete`, { outcome: 'PAYMENT_CORRECTED', data: { bankCard: newCard, note: '申请人更换银行卡' } });
    expect(done.statusCode, done.body).toBe(200);
    expect(await payment(id)).toMatchObject({ status: 'requested', round: 2, attempts: 0 });
    const corrected = (await chainOf(c.id)).events.at(-1);
    expect(corrected.type).toBe('PAYMENT_CORRECTED');
    expect(JSON.stringify(corrected.payload)).not.toContain(newCard);
    expect(corrected.payload.instructionId).toBe(`${id}-2`);
    const caseRow = await db()('cases').where({ id: c.id }).first();
    expect(JSON.stringify(caseRow.applicant)).not.toContain(newCard);
    expect((ctx.engine.cipher.open(caseRow.applicant) as any).bankCard).toBe(newCard);

    expect(await deliverer(batchAdapter()).runOnce()).toMatchObject({ sent: 1 });
    const lines = (await batchText(id)).split('\n');
    expect(lines.filter((l) => l.includes(`,${id}-1,`))[0]).toContain(applicant.bankCard);
    expect(lines.filter((l) => l.includes(`,${id}-2,`))[0]).toContain(newCard);
    // The old instruction's result no longer applies; the new one's does.
    const late = await admin.post('/api/admin/payments/reconciliations', { content: csv(`${id}-1,成功,B9,`, `${id}-2,成功,B10,`) });
    expect(late.json().lines.map((l: any) => l.outcome)).toEqual(['error', 'paid']);
    expect(await payment(id)).toMatchObject({ status: 'paid', bank_reference: 'B10' });
    expect(await db()('payments').where({ case_id: c.id })).toHaveLength(1);
    expect((await chainOf(c.id)).check.valid).toBe(true);
    expect((await clerk.get(`/api/cases/${c.id}`)).json().payments).toEqual([expect.objectContaining({ period: '2026-04', status: 'paid', statusLabel: '已到账' })]);
    // The correction task is closed.
    expect(await db()('tasks').where({ id: task.id }).first()).toMatchObject({ status: 'completed', outcome: 'PAYMENT_CORRECTED' });
  });

  it('a case without a bank card fails at delivery and gets the correction task', async () => {
    const c = await paidCase(['2026-04'], 60000, { bankCard: undefined });
    expect(await deliverer(batchAdapter()).runOnce()).toMatchObject({ failed: 1 });
    expect(await payment(c.paymentIds[0])).toMatchObject({ status: 'failed', failure_reason: '申请人未登记有效的发放银行卡号' });
    expect(await db()('tasks').where({ case_id: c.id, state_id: 'service.paymentCorrection', status: 'open' })).toHaveLength(1);
  });

  it('N failures → an incident → retry delivers it; resolve abandons another; both logged on the case; other regions see nothing', async () => {
    const a = await paidCase(['2026-04']);
    const b = await paidCase(['2026-04']);
    bank.respond = () => ({ status: 500 });
    const d = deliverer(gatewayAdapter(), { maxAttempts: 3 });
    expect(await d.runOnce()).toMatchObject({ retrying: 2 });
    ctx.clock.advance(RETRY_SCHEDULE_MS[0]);
    expect(await d.runOnce()).toMatchObject({ retrying: 2 });
    ctx.clock.advance(RETRY_SCHEDULE_MS[1]);
    expect(await d.runOnce()).toMatchObject({ incidents: 2 });
    ctx.clock.advance(RETRY_SCHEDULE_MS[6]);
    expect(await d.runOnce()).toMatchObject({ claimed: 0 }); // no more retries

    const admin = await ctx.as('admin.xihu');
    const list = (await admin.get('/api/admin/incidents?kind=payment')).json();
    const ids = list.items.map((i: any) => i.id);
    expect(ids).toEqual(expect.arrayContaining([`payment-${a.paymentIds[0]}`, `payment-${b.paymentIds[0]}`]));
    const item = list.items.find((i: any) => i.id === `payment-${a.paymentIds[0]}`);
    expect(item).toMatchObject({ kind: 'payment', kindLabel: '发放', reference: a.reference, attempts: 3, summary: '发放 2026-04 600.00元' });
    expect(item.error).toContain('HTTP 500');
    expect(list.counts.payment).toBeGreaterThanOrEqual(2);

    // Keyset pages of one.
    const p1 = (await admin.get('/api/admin/incidents?pageSize=1')).json();
    const p2 = (await admin.get(`/api/admin/incidents?pageSize=1&cursor=${p1.nextCursor}`)).json();
    expect(p1.items).toHaveLength(1);
    expect(p2.items[0].id).not.toBe(p1.items[0].id);

    // Authorization: a clerk is refused, another region's admin does not see them.
    expect((await (await ctx.as('clerk.xixi')).get('/api/admin/incidents')).statusCode).toBe(403);
    const gongshu = await ctx.as('admin.gongshu');
    expect((await gongshu.get('/api/admin/incidents')).json().items).toEqual([]);
    expect((await gongshu.post(`/api/admin/incidents/payment-${a.paymentIds[0]}/retry`, {})).statusCode).toBe(404);
    expect((await gongshu.post(`/api/admin/incidents/payment-${a.paymentIds[0]}/resolve`, { reason: '不是本区的' })).statusCode).toBe(404);
    expect((await (await ctx.as('clerk.xixi')).post(`/api/admin/incidents/payment-${a.paymentIds[0]}/retry`, { bogus: 1 })).statusCode).toBe(403);
    // Reconciliation: only admins, and another region's instruction does not exist for them.
    expect((await (await ctx.as('clerk.xixi')).post('/api/admin/payments/reconciliations', { content: 'x' })).statusCode).toBe(403);
    const foreign = await gongshu.post('/api/admin/payments/reconciliations', { content: csv(`${a.paymentIds[0]}-1,成功,B1,`) });
    expect(foreign.json().lines[0]).toMatchObject({ outcome: 'error', message: '未找到该发放指令' });
    expect(await payment(a.paymentIds[0])).toMatchObject({ status: 'incident' });

    bank.respond = () => ({ status: 200 });
    const retried = await admin.post(`/api/admin/incidents/payment-${a.paymentIds[0]}/retry`, { note: '银行接口已恢复' });
    expect(retried.statusCode, retried.body).toBe(200);
    expect((await admin.post(`/api/admin/incidents/payment-${a.paymentIds[0]}/retry`, {})).json().code).toBe('INCIDENT_NOT_OPEN');
    const resolved = await admin.post(`/api/admin/incidents/payment-${b.paymentIds[0]}/resolve`, { reason: '已线下补发' });
    expect(resolved.statusCode, resolved.body).toBe(200);
    expect(await d.runOnce()).toMatchObject({ sent: 1 });
    expect(await payment(a.paymentIds[0])).toMatchObject({ status: 'sent', round: 1 });
    expect(await payment(b.paymentIds[0])).toMatchObject({ status: 'abandoned', resolution: '已处理：已线下补发' });
    expect(bank.paid.size).toBe(1);
    expect((await chainOf(a.id)).events.at(-1)).toMatchObject({ type: 'INCIDENT_RETRIED' });
    expect((await chainOf(b.id)).events.at(-1).payload).toMatchObject({ kind: 'payment', reason: '已线下补发' });
    for (const c of [a, b]) expect((await chainOf(c.id)).check.valid).toBe(true);
    expect((await admin.get('/api/admin/incidents?kind=payment')).json().items.map((i: any) => i.id)).not.toContain(`payment-${a.paymentIds[0]}`);
  });

  it('lists failed timers and dead-letter notices too, with retry and resolve', async () => {
    const c = await paidCase(['2026-04']);
    const timer = await db()('timers').where({ case_id: c.id, status: 'pending' }).first();
    await db()('timers').where({ id: timer.id }).update({ status: 'failed', attempts: 10, last_error: 'boom' });
    const admin = await ctx.as('admin.xihu');
    const list = (await admin.get('/api/admin/incidents?kind=timer')).json();
    expect(list.items.map((i: any) => i.id)).toContain(`timer-${timer.id}`);
    expect((await admin.post(`/api/admin/incidents/timer-${timer.id}/retry`, {})).statusCode).toBe(200);
    expect(await db()('timers').where({ id: timer.id }).first()).toMatchObject({ status: 'pending', attempts: 0 });
    await db()('timers').where({ id: timer.id }).update({ status: 'failed' });
    expect((await admin.post(`/api/admin/incidents/timer-${timer.id}/resolve`, { reason: '任务已人工处理' })).statusCode).toBe(200);
    expect(await db()('timers').where({ id: timer.id }).first()).toMatchObject({ status: 'cancelled', resolution: '已处理：任务已人工处理' });
    expect((await chainOf(c.id)).check.valid).toBe(true);
  });
});

// Deliverers in separate processes on one PostgreSQL (PGlite is one process's database).
describe.skipIf(!inject('databaseUrl'))('deliverers in separate processes', () => {
  function worker(env: Record<string, string>): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
        env: {
          ...process.env,
          DATABASE_URL: ctx.database.url!,
          ONEWINDOW_NOW: ctx.clock.now().toISOString(),
          ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS,
          PAYMENT_GATEWAY_URL: bank.url,
          PAYMENT_BATCH_DIR: dir,
          NOTICES: 'off',
          WORKER_EXIT_WHEN_IDLE: '1',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => (code === 0 || env.PAYMENT_FAULT ? resolve(code) : reject(new Error(`worker exited ${code}: ${stderr}`))));
    });
  }

  it('a worker killed right after the bank accepted: the next one re-sends with the same key, every payment is paid once', async () => {
    const cases = [];
    for (let i = 0; i < 4; i++) cases.push(await paidCase(['2026-04', '2026-05']));
    const ids = cases.flatMap((c) => c.paymentIds);
    expect(await worker({ WORKER_ID: 'p1', PAYMENT_BATCH: '3', PAYMENT_FAULT: 'exit-after-send:2' })).toBe(137);
    expect(bank.paid.size).toBe(2);
    expect(await Promise.all([worker({ WORKER_ID: 'p2', PAYMENT_BATCH: '2' }), worker({ WORKER_ID: 'p3', PAYMENT_BATCH: '2' })])).toEqual([0, 0]);
    // p1's leased payments (the one it sent but did not record among them) wait for the lease.
    ctx.clock.advance(61_000);
    expect(await worker({ WORKER_ID: 'p4' })).toBe(0);
    const rows = await db()('payments').whereIn('id', ids);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(bank.paid.size).toBe(ids.length);
    expect(new Set(bank.requests.map((r) => r.idempotencyKey)).size).toBe(ids.length);
    // The one sent twice was the one p1 died on.
    expect(bank.requests.length).toBe(ids.length + 1);
  });
});
