import { describe, expect, it } from 'vitest';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { DevSinkChannel } from '../../src/notifications/channels.ts';
import { NoticeDispatcher } from '../../src/notifications/dispatcher.ts';
import { applicant, application, useTestApp } from '../support/app.ts';
import { statementsOf, wholeScanOffenders, type Captured } from '../support/plans.ts';
import { leadCounts } from '../../src/db/leads.ts';

// B10: a command's cost must not grow with the database. Every statement that real commands, a
// timer firing, a login and a tracking request send is captured (knex 'query' event) and planned
// again under EXPLAIN with its own bindings and enable_seqscan = off: a sequential scan of a
// growing table — or an index read end to end because nothing in the predicate matches its
// key (how `task_id in (…) and status = 'pending'` used timers_pending_by_case) — fails.
const ctx = useTestApp();
const SKIP = /^\s*(begin|commit|rollback|savepoint|release|set |select set_config|reset )/i;

describe('query plans', () => {
  it('uses an index its predicate matches in every statement of commands, a timer firing, notice dispatch, a login and tracking', async () => {
    const { db } = ctx.database;
    const captured: Captured[] = [];
    const listener = (q: { sql: string; bindings?: unknown[] }) => captured.push(...statementsOf({ sql: q.sql, bindings: q.bindings ?? [] }));
    db.on('query', listener);
    let track: { reference: string; trackingCode: string };
    let invited = '';
    try {
      // Login, opening a case (with an Idempotency-Key), events, a claim, task completions, payment.
      const clerk = await ctx.as('clerk.xixi');
      const opened = await ctx.app.inject({
        method: 'POST',
        url: '/api/cases',
        headers: { authorization: `Bearer ${clerk.token}`, 'idempotency-key': 'plans-open-1' },
        payload: { procedureId: 'social-assistance', applicant, application },
      });
      expect(opened.statusCode, opened.body).toBe(201);
      track = opened.json();
      const id = opened.json().id as string;
      const act = async (user: string, outcome: string, data: object = {}) => {
        const c = await ctx.as(user);
        const task = (await c.get(`/api/cases/${id}`)).json().openTasks.find((t: any) => t.actions.some((a: any) => (a.type ?? a) === outcome));
        expect((await c.post(`/api/tasks/${task.id}/claim`)).statusCode).toBe(204);
        const res = await c.post(`/api/tasks/${task.id}/complete`, { outcome, data });
        expect(res.statusCode, res.body).toBe(200);
      };
      await act('clerk.xixi', 'ACCEPT');
      await act('verify.xihu', 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true });
      await act('township.xixi', 'HOME_VISIT_COMPLETED', { visitors: ['周丽', '马超'], findings: '属实' });
      await act('township.xixi', 'PRELIMINARY_APPROVE', { proposedMonthlyAmountFen: 60000 });
      await act('township.xixi', 'PUBLIC_NOTICE_ENDED');
      await act('township.xixi', 'APPROVE', { monthlyAmountFen: 60000, startMonth: '2026-04' });
      // 委派 and 改派 (routes/taskAssignment.ts), with the colleague picker.
      const payTask = (await (await ctx.as('county.xihu')).get(`/api/cases/${id}`)).json().openTasks[0];
      const supervisor = await ctx.as('supervisor.xihu');
      const picks = await supervisor.get(`/api/tasks/${payTask.id}/assignees`);
      expect(picks.statusCode, picks.body).toBe(200);
      const countyId = (await db('users').where({ username: 'county.xihu' }).first()).id;
      expect((await supervisor.post(`/api/tasks/${payTask.id}/reassign`, { assignee: countyId, reason: '督办改派' })).statusCode).toBe(200);
      const township = await ctx.as('township.xixi');
      expect((await township.get(`/api/tasks/${payTask.id}/assignees`)).statusCode).toBe(403);
      expect((await township.post(`/api/tasks/${payTask.id}/delegate`, { assignee: countyId, reason: '委派' })).statusCode).toBe(403);
      const version = (await clerk.get(`/api/cases/${id}`)).json().version;
      const pay = await (await ctx.as('county.xihu')).post(`/api/cases/${id}/events`, { type: 'PAY_MONTH', data: { period: '2026-04' }, expectedVersion: version });
      expect(pay.statusCode, pay.body).toBe(200);

      // A second case whose acceptance deadline passes: the worker fires its escalation timers.
      const late = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
      ctx.clock.advance(60 * 86_400_000);
      const fired = await new TimerWorker({ db, engine: ctx.engine, workerId: 'plans' }).runOnce();
      expect(fired.fired).toBeGreaterThan(0);
      expect(late.id).toBeDefined();

      // 网上申请: start, phone code, confirm, the 预审 queue, accept and return (routes/onlineApplications.ts).
      const startApp = async () => {
        const res = await ctx.app.inject({ method: 'POST', url: '/api/public/applications', payload: { procedureId: 'social-assistance', regionCode: '330106002', applicant, application, materials: [{ code: 'id-hukou', count: 1 }] } });
        expect(res.statusCode, res.body).toBe(201);
        const appId = res.json().id as string;
        expect((await ctx.app.inject({ method: 'POST', url: `/api/public/applications/${appId}/phone-code` })).statusCode).toBe(202);
        const row = await db('outbox').where({ application_id: appId }).first();
        const code = ctx.engine.cipher.decrypt((typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload).code);
        expect((await ctx.app.inject({ method: 'POST', url: `/api/public/applications/${appId}/confirm`, payload: { code } })).statusCode).toBe(200);
        expect((await ctx.app.inject({ method: 'GET', url: `/api/public/applications/${appId}` })).statusCode).toBe(200);
        return appId;
      };
      const [toAccept, toReturn] = [await startApp(), await startApp()];
      const queue = await clerk.get('/api/applications?pageSize=1');
      expect(queue.statusCode, queue.body).toBe(200);
      expect((await clerk.get(`/api/applications?pageSize=1&cursor=${queue.json().nextCursor}`)).statusCode).toBe(200);
      expect((await clerk.post(`/api/applications/${toAccept}/accept`, { materialsReceived: ['id-hukou'] })).statusCode).toBe(201);
      expect((await clerk.post(`/api/applications/${toReturn}/return`, { missingMaterials: ['income-declaration'] })).statusCode).toBe(200);
      expect((await ctx.app.inject({ method: 'GET', url: '/api/public/applications/regions' })).statusCode).toBe(200);

      // The notice dispatcher: outbox rows taken, notices claimed, sent to the dev sink and recorded;
      // then the admin's queue and dead-letter views.
      const channel = new DevSinkChannel({ db, cipher: ctx.engine.cipher, clock: ctx.clock.now });
      const dispatched = await new NoticeDispatcher({ db, cipher: ctx.engine.cipher, clock: ctx.clock.now, channel, publicBaseUrl: 'http://127.0.0.1:3000', workerId: 'plans' }).runOnce();
      expect(dispatched.sent).toBeGreaterThan(0);
      const admin = await ctx.as('admin.xihu');
      for (const url of ['/api/admin/notices', '/api/admin/notices?status=dead&kind=accepted', `/api/admin/notices?caseId=${id}`, '/api/admin/notices/sink-messages']) {
        expect((await admin.get(url)).statusCode).toBe(200);
      }

      // 主动发现 (routes/leads.ts): a grid worker registers, the township lists, closes and converts;
      // the board's and the 月报告's leads blocks.
      const grid = await ctx.as('grid.xixi');
      const leadBody = (urgency: string) => ({ household: { headName: '张三', headIdNumber: applicant.idNumber, phone: applicant.phone, address: '西溪路1号', size: 2 }, situation: '家中突发困难，急需救助', urgency });
      const urgentLead = (await grid.post('/api/leads', leadBody('urgent'))).json();
      const normalLead = (await grid.post('/api/leads', leadBody('normal'))).json();
      for (const url of ['/api/leads', '/api/leads?status=open&urgency=urgent', '/api/leads?overdue=true&page=2', `/api/leads/${urgentLead.id}`]) {
        expect((await township.get(url)).statusCode, url).toBe(200);
        expect((await grid.get(url)).statusCode, url).toBe(200);
      }
      expect((await township.post(`/api/leads/${normalLead.id}/close`, { reason: '经核实家庭收入稳定' })).statusCode).toBe(200);
      const converted = await township.post(`/api/leads/${urgentLead.id}/convert`, { hardship: 'illness', requestedAmountFen: 100000 });
      expect(converted.statusCode, converted.body).toBe(200);
      // The board's own task counts are planned elsewhere (board-admin); only its leads block here.
      expect((await leadCounts(db, '330106', ctx.clock.now())).converted).toBe(1);
      expect((await supervisor.get(`/api/reports/monthly?month=${new Date(ctx.clock.now().getTime() + 8 * 3_600_000).toISOString().slice(0, 7)}`)).statusCode).toBe(200);

      // The citizen's tracking request.
      const tracked = await ctx.app.inject({ method: 'GET', url: `/api/track/${track.reference}?code=${track.trackingCode}` });
      expect(tracked.statusCode, tracked.body).toBe(200);

      // 好差评 (docs/ratings.md): the decided case is rated 不满意, its 整改 and 回访 completed by the supervisor;
      // then the invitation timer of a decided, unrated case fires.
      const rating = await ctx.app.inject({
        method: 'POST',
        url: `/api/track/${track.reference}/ratings`,
        payload: { code: track.trackingCode, stage: 'decision', channel: 'offline', level: 'dissatisfied', indicators: { attitude: 'dissatisfied', efficiency: 'satisfied', guidance: 'satisfied', environment: 'satisfied' } },
      });
      expect(rating.statusCode, rating.body).toBe(201);
      const serviceTask = async (stateId: string) => (await supervisor.get(`/api/cases/${id}`)).json().openTasks.find((t: any) => t.stateId === stateId);
      const rectification = await serviceTask('service.rectification');
      expect((await supervisor.post(`/api/tasks/${rectification.id}/complete`, { outcome: 'RECTIFICATION_DONE', data: { cause: '等待时间长', measures: '增开窗口' } })).statusCode).toBe(200);
      const followUp = await serviceTask('service.followUp');
      expect((await supervisor.post(`/api/tasks/${followUp.id}/complete`, { outcome: 'FOLLOW_UP_DONE', data: { reached: true, note: '认可整改' } })).statusCode).toBe(200);
      const rejected = (await clerk.post('/api/cases', { procedureId: 'social-assistance', applicant, application })).json();
      const window = (await clerk.get(`/api/cases/${rejected.id}`)).json().openTasks[0];
      expect((await clerk.post(`/api/tasks/${window.id}/complete`, { outcome: 'REJECT_APPLICATION', data: { reason: '不符合条件' } })).statusCode).toBe(200);
      ctx.clock.advance(4 * 86_400_000);
      expect((await new TimerWorker({ db, engine: ctx.engine, workerId: 'plans' }).runOnce()).fired).toBeGreaterThan(0);
      invited = rejected.id;
    } finally {
      db.off('query', listener);
    }
    expect(await db('outbox').where({ case_id: invited, kind: 'notice.rating_invitation' })).toHaveLength(1);

    const statements = new Map<string, Captured>();
    for (const c of captured) if (!SKIP.test(c.sql) && !statements.has(c.sql)) statements.set(c.sql, c);
    expect(statements.size).toBeGreaterThan(20);

    const offenders = await wholeScanOffenders(db, statements.values());
    expect(offenders).toEqual([]);
  });
});
