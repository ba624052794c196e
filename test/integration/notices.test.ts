import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { insertNotice } from '../../src/db/outbox.ts';
import { ratingInvitationNotice } from '../../src/notifications/triggers.ts';
import { DevSinkChannel, HttpGatewayChannel } from '../../src/notifications/channels.ts';
import { NoticeDispatcher, RETRY_SCHEDULE_MS } from '../../src/notifications/dispatcher.ts';
import { applicant, application, useTestApp } from '../support/app.ts';
import { FakeSmsGateway } from '../support/smsGateway.ts';

// Citizen notices (issue 9): the dispatcher delivers the engine's notice.* outbox rows at least
// once, and — through the idempotency key the gateway dedupes on and our own record of a
// confirmed send — once in effect, retrying with back-off on the injected clock and
// dead-lettering what keeps failing.
const ctx = useTestApp();
const db = () => ctx.database.db;
const gateway = new FakeSmsGateway();
const BASE = 'https://ywt.example.gov.cn';

beforeAll(() => gateway.start());
afterAll(() => gateway.stop());
beforeEach(async () => {
  gateway.reset();
  // Each test sees only its own notices: earlier tests' leftovers leave the queue.
  await db()('outbox').whereNull('processed_at').andWhere('kind', 'like', 'notice.%').update({ processed_at: ctx.clock.now() });
  await db()('notices').where({ status: 'pending' }).update({ status: 'discarded' });
});

function dispatcher(o: Partial<ConstructorParameters<typeof NoticeDispatcher>[0]> = {}) {
  return new NoticeDispatcher({
    db: db(),
    cipher: ctx.engine.cipher,
    clock: ctx.clock.now,
    channel: new HttpGatewayChannel({ url: gateway.url, token: 'gw-secret', timeoutMs: 2000 }),
    publicBaseUrl: BASE,
    leaseMs: 60_000,
    ...o,
  });
}

async function openCase(clerk = 'clerk.beishan', phone = applicant.phone) {
  const c = await ctx.as(clerk);
  const res = await c.post('/api/cases', { procedureId: 'social-assistance', applicant: { ...applicant, phone }, application });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; reference: string; trackingCode: string };
}

async function noticesOf(caseId: string) {
  return db()('notices').where({ case_id: caseId }).orderBy('id');
}

describe('the acceptance notice', () => {
  it('is written with the case, holds neither phone nor tracking code in plaintext, and is delivered once with reference, code and link', async () => {
    const opened = await openCase();
    const rows = await db()('outbox').where({ case_id: opened.id, kind: 'notice.accepted' });
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows[0].payload);
    expect(stored).toContain(opened.reference);
    expect(stored).not.toContain(opened.trackingCode);
    expect(stored).not.toContain(applicant.phone);

    const d = dispatcher();
    const first = await d.runOnce();
    expect(first).toMatchObject({ taken: 1, claimed: 1, sent: 1 });
    expect(await d.runOnce()).toMatchObject({ taken: 0, claimed: 0, sent: 0 });

    expect(gateway.requests).toHaveLength(1);
    const sms = gateway.requests[0];
    expect(sms.body.to).toBe(applicant.phone);
    expect(sms.authorization).toBe('Bearer gw-secret');
    expect(sms.idempotencyKey).toBe(sms.body.idempotencyKey);
    expect(sms.body.text.startsWith('【一窗通办】')).toBe(true);
    expect(sms.body.text).toContain(opened.reference);
    expect(sms.body.text).toContain(`查询码${opened.trackingCode}`);
    expect(sms.body.text).toContain(`${BASE}/track?ref=${opened.reference}`);

    const [notice] = await noticesOf(opened.id);
    expect(notice).toMatchObject({ kind: 'accepted', status: 'sent', attempts: 1, channel: 'http-gateway', provider_message_id: 'gw-1' });
    expect(JSON.stringify(notice.payload)).not.toContain(opened.trackingCode);
    expect(JSON.stringify(notice)).not.toContain(applicant.phone);
  });
});

describe('retries', () => {
  it('retries on the back-off schedule of the injected clock and delivers once when the gateway fails twice first', async () => {
    const opened = await openCase();
    gateway.respond = (_r, n) => (n <= 2 ? { status: 503 } : { status: 200 });
    const d = dispatcher();

    expect(await d.runOnce()).toMatchObject({ claimed: 1, retrying: 1 });
    let [n] = await noticesOf(opened.id);
    expect(n.status).toBe('pending');
    expect(new Date(n.next_attempt_at).getTime() - ctx.clock.now().getTime()).toBe(RETRY_SCHEDULE_MS[0]);
    expect(n.last_error).toContain('HTTP 503');

    // Not before its time.
    ctx.clock.advance(RETRY_SCHEDULE_MS[0] - 1000);
    expect(await d.runOnce()).toMatchObject({ claimed: 0 });
    ctx.clock.advance(1000);
    expect(await d.runOnce()).toMatchObject({ claimed: 1, retrying: 1 });
    [n] = await noticesOf(opened.id);
    expect(new Date(n.next_attempt_at).getTime() - ctx.clock.now().getTime()).toBe(RETRY_SCHEDULE_MS[1]);

    ctx.clock.advance(RETRY_SCHEDULE_MS[1]);
    expect(await d.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    [n] = await noticesOf(opened.id);
    expect(n).toMatchObject({ status: 'sent', attempts: 3, last_error: null });
    // Three requests, one key, one delivery.
    expect(gateway.requests).toHaveLength(3);
    expect(new Set(gateway.requests.map((r) => r.idempotencyKey))).toEqual(new Set([n.idempotency_key]));
    expect(gateway.delivered.size).toBe(1);
  });

  it('dead-letters a notice after maxAttempts failures, with an error that does not hold the number', async () => {
    const opened = await openCase();
    // A gateway that echoes the number in its error body.
    gateway.respond = (r) => ({ status: 500, body: { error: `upstream refused +86 ${r.body.to}` } });
    const d = dispatcher({ maxAttempts: 3 });
    expect(await d.runOnce()).toMatchObject({ retrying: 1 });
    ctx.clock.advance(RETRY_SCHEDULE_MS[0]);
    expect(await d.runOnce()).toMatchObject({ retrying: 1 });
    ctx.clock.advance(RETRY_SCHEDULE_MS[1]);
    expect(await d.runOnce()).toMatchObject({ dead: 1 });
    ctx.clock.advance(24 * 3_600_000);
    expect(await d.runOnce()).toMatchObject({ claimed: 0 });
    const [n] = await noticesOf(opened.id);
    expect(n).toMatchObject({ status: 'dead', attempts: 3 });
    expect(n.last_error).toContain('HTTP 500');
    expect(n.last_error).not.toContain(applicant.phone);
    expect(gateway.requests).toHaveLength(3);
  });

  it('dead-letters at once what sending again cannot help (a 4xx refusal)', async () => {
    const opened = await openCase();
    gateway.respond = () => ({ status: 400, body: { error: 'invalid number' } });
    expect(await dispatcher().runOnce()).toMatchObject({ dead: 1 });
    const [n] = await noticesOf(opened.id);
    expect(n).toMatchObject({ status: 'dead', attempts: 1 });
    expect(n.last_error).toContain('HTTP 400');
  });
});

describe('several dispatchers and crashes', () => {
  it('two dispatchers racing never send a notice twice', async () => {
    const cases = [];
    for (let i = 0; i < 12; i++) cases.push(await openCase(i % 2 ? 'clerk.xixi' : 'clerk.beishan'));
    gateway.respond = () => ({ status: 200, delayMs: 3 });
    const drain = async (d: NoticeDispatcher) => {
      let sent = 0;
      for (let i = 0; i < 50; i++) {
        const r = await d.runOnce();
        sent += r.sent;
        if (r.claimed === 0 && r.taken === 0) break;
      }
      return sent;
    };
    const [a, b] = await Promise.all([drain(dispatcher({ workerId: 'a', batchSize: 3 })), drain(dispatcher({ workerId: 'b', batchSize: 3 }))]);
    expect(a + b).toBe(12);
    expect([...gateway.perKey().values()].every((n) => n === 1)).toBe(true);
    expect(gateway.requests).toHaveLength(12);
    for (const c of cases) expect((await noticesOf(c.id)).map((n) => n.status)).toEqual(['sent']);
  });

  it('a dispatcher killed between the send and its record: the resend carries the same idempotency key and is delivered once', async () => {
    const opened = await openCase();
    const crashed = dispatcher({
      workerId: 'doomed',
      afterSend: () => {
        throw new Error('killed');
      },
    });
    await expect(crashed.runOnce()).rejects.toThrow('killed');
    let [n] = await noticesOf(opened.id);
    expect(n).toMatchObject({ status: 'pending', locked_by: 'doomed' });
    expect(gateway.delivered.size).toBe(1);

    // Its lease holds the notice: nobody sends it meanwhile.
    const survivor = dispatcher({ workerId: 'survivor' });
    expect(await survivor.runOnce()).toMatchObject({ claimed: 0 });
    ctx.clock.advance(61_000);
    expect(await survivor.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    [n] = await noticesOf(opened.id);
    expect(n.status).toBe('sent');
    expect(gateway.requests.map((r) => r.idempotencyKey)).toEqual([n.idempotency_key, n.idempotency_key]);
    expect(gateway.delivered.size).toBe(1);
    // Confirmed: never again.
    ctx.clock.advance(3_600_000);
    expect(await survivor.runOnce()).toMatchObject({ claimed: 0 });
    expect(gateway.requests).toHaveLength(2);
  });

  it("the issue's case: the gateway fails twice first and the dispatcher is killed mid-batch — each notice is delivered once", async () => {
    const opened = [await openCase(), await openCase(), await openCase()];
    gateway.respond = (_r, n) => (n <= 2 ? { status: 503 } : { status: 200 });
    const ids = (await db()('outbox').whereIn('case_id', opened.map((o) => o.id)).orderBy('id')).map((r) => String(r.id));
    expect(ids).toHaveLength(3);
    // Killed right after the gateway accepted the third message, before recording it.
    let sends = 0;
    const doomed = dispatcher({ workerId: 'doomed', afterSend: () => { if (++sends === 1) throw new Error('SIGKILL'); } });
    await expect(doomed.runOnce()).rejects.toThrow('SIGKILL');
    expect(gateway.delivered.size).toBe(1);

    const survivor = dispatcher({ workerId: 'survivor' });
    ctx.clock.advance(61_000); // past the first back-off step and the dead dispatcher's lease
    expect(await survivor.runOnce()).toMatchObject({ claimed: 3, sent: 3 });
    expect(await survivor.runOnce()).toMatchObject({ claimed: 0 });
    const rows = await db()('notices').whereIn('case_id', opened.map((o) => o.id));
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
    // Six requests, two per key; the gateway delivered each key once.
    expect([...gateway.perKey().values()]).toEqual([2, 2, 2]);
    expect(gateway.delivered.size).toBe(3);
  });

  it('the development sink records each key once, with the number masked and the text encrypted', async () => {
    const opened = await openCase();
    const sink = new DevSinkChannel({ db: db(), cipher: ctx.engine.cipher, clock: ctx.clock.now });
    const crashed = dispatcher({ channel: sink, workerId: 'sink-doomed', afterSend: () => Promise.reject(new Error('killed')) });
    await expect(crashed.runOnce()).rejects.toThrow('killed');
    ctx.clock.advance(61_000);
    expect(await dispatcher({ channel: sink }).runOnce()).toMatchObject({ sent: 1 });
    const [n] = await noticesOf(opened.id);
    const messages = await db()('notice_sink_messages').where({ case_id: opened.id });
    expect(messages).toHaveLength(1);
    expect(messages[0].recipient_masked).toBe('138****8000');
    expect(String(messages[0].notice_id)).toBe(String(n.id));
    expect(messages[0].body).toMatch(/^enc:v1:/);
    expect(ctx.engine.cipher.decrypt(messages[0].body)).toContain(opened.trackingCode);
    expect(n.provider_message_id).toBe(`sink-${messages[0].id}`);
  });
});

describe('the notices transitions write', () => {
  async function act(id: string, user: string, outcome: string, data: object = {}) {
    const c = await ctx.as(user);
    const task = (await c.get(`/api/cases/${id}`)).json().openTasks.find((t: any) => t.actions.some((a: any) => a.type === outcome));
    expect(task, outcome).toBeTruthy();
    expect((await c.post(`/api/tasks/${task.id}/claim`)).statusCode).toBe(204);
    const res = await c.post(`/api/tasks/${task.id}/complete`, { outcome, data });
    expect(res.statusCode, res.body).toBe(200);
  }
  const texts = () => gateway.requests.map((r) => r.body.text);

  it('补正 (what is missing, by when), approval with the amount, and each payment', async () => {
    const opened = await openCase('clerk.xixi');
    await act(opened.id, 'clerk.xixi', 'REQUEST_SUPPLEMENT', { missingMaterials: ['income-declaration'] });
    await act(opened.id, 'clerk.xixi', 'SUPPLEMENT_RECEIVED');
    await act(opened.id, 'clerk.xixi', 'ACCEPT');
    await act(opened.id, 'verify.xihu', 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true });
    await act(opened.id, 'township.xixi', 'HOME_VISIT_COMPLETED', { visitors: ['周丽', '马超'], findings: '属实' });
    await act(opened.id, 'township.xixi', 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 60000 });
    await act(opened.id, 'township.xixi', 'PUBLIC_NOTICE_ENDED');
    await act(opened.id, 'township.xixi', 'APPROVE', { monthlyAmountFen: 60000, startMonth: '2026-04' });
    const county = await ctx.as('county.xihu');
    const version = (await county.get(`/api/cases/${opened.id}`)).json().version;
    const pay = await county.post(`/api/cases/${opened.id}/events`, { type: 'PAY_MONTH', data: { period: '2026-04' }, expectedVersion: version });
    expect(pay.statusCode, pay.body).toBe(200);

    expect((await noticesOf(opened.id)).length).toBe(0); // still in the outbox
    expect((await dispatcher().runOnce()).sent).toBe(4);
    expect((await noticesOf(opened.id)).map((n) => n.kind)).toEqual(['accepted', 'supplement', 'decision', 'payment']);
    const [, supplement, decision, payment] = texts();
    const supplementTask = await db()('tasks').where({ case_id: opened.id }).andWhere('state_id', 'like', '%supplement').first();
    const due = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(supplementTask.due_at);
    const part = (t: string) => due.find((p) => p.type === t)!.value;
    expect(supplement).toContain('需补正：家庭收入和财产状况申报');
    expect(supplement).toContain(`请于${part('year')}年${part('month')}月${part('day')}日前补交`);
    expect(decision).toContain('已批准，每月600.00元，自2026年4月起发放');
    expect(payment).toContain('2026年4月救助金600.00元已核准发放');
    for (const t of texts()) {
      expect(t.startsWith('【一窗通办】')).toBe(true);
      expect(t).toContain(opened.reference);
    }
  });

  it('the rating hook: an invitation written through it is delivered like any notice', async () => {
    const opened = await openCase();
    const def = ctx.engine.registry.latest('social-assistance');
    await db().transaction((trx) => insertNotice(trx, opened.id, ratingInvitationNotice(def, opened.reference), ctx.clock.now()));
    expect(await dispatcher().runOnce()).toMatchObject({ sent: 2 });
    expect((await noticesOf(opened.id)).map((n) => n.kind)).toEqual(['accepted', 'rating_invitation']);
    expect(texts().at(-1)).toBe(`【一窗通办】您的低保申请（${opened.reference}）已办结，欢迎评价办理服务：${BASE}/track?ref=${opened.reference}`);
  });

  it('不予受理 with its reason', async () => {
    const opened = await openCase();
    await act(opened.id, 'clerk.beishan', 'REJECT_APPLICATION', { reason: '不符合受理条件' });
    await dispatcher().runOnce();
    const kinds = (await noticesOf(opened.id)).map((n) => [n.kind, n.payload.outcome]);
    expect(kinds).toEqual([['accepted', undefined], ['decision', 'notAccepted']]);
    expect(texts().at(-1)).toContain('不予受理，理由：不符合受理条件');
  });
});

// Worker processes on one PostgreSQL (PGlite is one process's database): run where DATABASE_URL
// points at a server, as .ci/run does.
describe.skipIf(!inject('databaseUrl'))('dispatchers in separate processes', () => {
  function worker(env: Record<string, string>): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
        env: {
          ...process.env,
          DATABASE_URL: ctx.database.url!,
          ONEWINDOW_NOW: ctx.clock.now().toISOString(),
          ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS,
          SMS_GATEWAY_URL: gateway.url,
          PUBLIC_BASE_URL: BASE,
          WORKER_EXIT_WHEN_IDLE: '1',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 || env.NOTICE_FAULT ? resolve(code) : reject(new Error(`worker exited ${code}: ${stderr}`))));
    });
  }

  it('a worker process killed mid-batch right after a send, then two racing: every notice is delivered once, the killed one\'s after its lease', async () => {
    const cases = [];
    for (let i = 0; i < 30; i++) cases.push(await openCase(i % 2 ? 'clerk.xixi' : 'clerk.beishan'));
    gateway.respond = () => ({ status: 200, delayMs: 2 });
    // p1 leases a batch of 5, sends 3 and dies after the gateway accepted the third.
    expect(await worker({ WORKER_ID: 'p1', NOTICE_BATCH: '5', NOTICE_FAULT: 'exit-after-send:3' })).toBe(137);
    expect(gateway.delivered.size).toBe(3);
    // Two processes race over the rest; p1's leased notices are not theirs yet.
    expect(await Promise.all([worker({ WORKER_ID: 'p2', NOTICE_BATCH: '4' }), worker({ WORKER_ID: 'p3', NOTICE_BATCH: '4' })])).toEqual([0, 0]);
    expect(gateway.delivered.size).toBe(28); // all but p1's two leased, unsent ones
    // The notice the killed process sent but did not record, and any it had leased, wait for the lease.
    ctx.clock.advance(61_000);
    await dispatcher({ workerId: 'after' }).runOnce();
    const rows = await db()('notices').whereIn('case_id', cases.map((c) => c.id));
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(gateway.delivered.size).toBe(30);
    const perKey = [...gateway.perKey().values()];
    expect(perKey.filter((n) => n === 2)).toHaveLength(1); // the one sent just before the kill, resent with its key
    expect(perKey.every((n) => n <= 2)).toBe(true);
  }, 120_000);
});
