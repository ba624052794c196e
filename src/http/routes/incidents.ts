import { NOTICE_KIND_LABELS, type NoticeKind } from '../../notifications/templates.ts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as cases from '../../db/cases.ts';
import * as incidents from '../../db/incidents.ts';
import * as notices from '../../db/notices.ts';
import * as outbox from '../../db/outbox.ts';
import * as payments from '../../db/payments.ts';
import * as timers from '../../db/timers.ts';
import type { Db } from '../../db/connection.ts';
import { DomainError, notFound } from '../../engine/errors.ts';
import type { Actor } from '../../engine/engine.ts';
import { COUNT_CAP } from '../../engine/queries/inbox.ts';
import { recordIncidentDecision } from '../../payments/correction.ts';
import { yuan } from '../../payments/batchFile.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { refusals } from '../schemas.ts';

// Incidents for admins (issue 10, docs/payments.md): every effect that stopped retrying — payment
// deliveries after PAYMENT_MAX_ATTEMPTS, failed timers, dead-letter notices — in one list, with
// retry and resolve. An admin sees those of cases in their region and below; another region's
// incident does not exist for them (404). A decision on an incident of a case is hash-chained
// into the case's log (INCIDENT_RETRIED / INCIDENT_RESOLVED).

const KIND_LABELS: Record<incidents.IncidentKind, string> = { payment: '发放', timer: '时限定时器', notice: '群众通知' };
const kindSchema = z.enum(incidents.INCIDENT_KINDS as [incidents.IncidentKind, ...incidents.IncidentKind[]]);

const incidentSchema = z
  .object({
    id: z.string().describe('<kind>-<source id>, e.g. payment-17'),
    kind: kindSchema.describe('payment: a payment delivery; timer: a deadline timer that kept failing; notice: a dead-letter citizen notice'),
    kindLabel: z.string().describe('zh-CN'),
    sourceId: z.string().describe('Id of the payment, timer or notice'),
    caseId: z.string().nullable(),
    reference: z.string().nullable().describe('受理编号 of the case'),
    regionCode: z.string(),
    summary: z.string().describe('zh-CN, e.g. 发放 2026-04 980.00元'),
    attempts: z.number().int(),
    error: z.string().nullable().describe('The last failure, redacted (never a card or phone number)'),
    at: z.string().describe('Last update of the source (payment, notice), or the timer’s due time'),
  })
  .meta({ id: 'Incident' });

const incidentPageSchema = z
  .object({
    items: z.array(incidentSchema),
    counts: z.object({ payment: z.number().int(), timer: z.number().int(), notice: z.number().int() }).describe('Open incidents per kind (each stops at countCap)'),
    countCap: z.number().int(),
    pageSize: z.number().int(),
    nextCursor: z.string().nullable().describe('Send as `cursor` for the next (older) page; null on the last page'),
  })
  .meta({ id: 'IncidentPage' });

const idParam = z.object({ id: z.string().regex(/^(payment|timer|notice)-[1-9]\d{0,17}$/, '无效的故障编号') });

// Admins read the summary: name timers and notices in Chinese, not by their internal kinds.
const TIMER_KIND_LABELS: Record<string, string> = { warn: '时限预警', overdue: '超期（黄牌）', red: '红牌', state: '环节时限' };

const summaryOf = (r: incidents.IncidentRow) => {
  if (r.kind === 'payment') return `发放 ${r.detail} ${yuan(r.amount_fen ?? 0)}元`;
  if (r.kind === 'timer') {
    const [kind, event] = r.detail.split(':');
    return `定时器 ${TIMER_KIND_LABELS[kind] ?? kind}（${event}）`;
  }
  return `通知 ${NOTICE_KIND_LABELS[r.detail as NoticeKind] ?? r.detail}`;
};

const view = (r: incidents.IncidentRow) => ({
  id: `${r.kind}-${r.source_id}`,
  kind: r.kind,
  kindLabel: KIND_LABELS[r.kind],
  sourceId: r.source_id,
  caseId: r.case_id,
  reference: r.reference,
  regionCode: r.region_code,
  summary: summaryOf(r),
  attempts: r.attempts,
  error: r.error,
  at: r.at.toISOString(),
});

const encodeCursor = (r: incidents.IncidentRow) => Buffer.from(`${r.at.toISOString()}|${r.kind}|${r.source_id}`).toString('base64url');
function decodeCursor(cursor: string | undefined): incidents.IncidentKey | undefined {
  if (!cursor) return undefined;
  const [at, kind, sourceId] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || Number.isNaN(Date.parse(at)) || !incidents.INCIDENT_KINDS.includes(kind as incidents.IncidentKind) || !/^\d{1,18}$/.test(sourceId ?? '')) {
    throw new DomainError('invalid', 'VALIDATION_FAILED', '无效的翻页游标', [{ path: 'cursor', message: '无效的翻页游标' }]);
  }
  return { at: new Date(at), kind: kind as incidents.IncidentKind, sourceId };
}

/**
 * The incident, under the case lock (taken first, as on every path) and its source row's lock; an
 * incident of another region, or no longer open, is 404 / 409.
 */
async function openIncident(trx: Db, actor: Actor, id: string) {
  const dash = id.indexOf('-');
  const kind = id.slice(0, dash) as incidents.IncidentKind;
  const sourceId = id.slice(dash + 1);
  const peek = await incidents.getIncident(trx, kind, sourceId);
  if (!peek || !peek.region_code.startsWith(actor.regionCode)) {
    // Resolved already, or never: say which only to an admin who could see it.
    const region = await sourceRegion(trx, kind, sourceId);
    if (region && region.startsWith(actor.regionCode)) throw new DomainError('conflict', 'INCIDENT_NOT_OPEN', '该故障已处理，不能重复操作');
    throw notFound('故障');
  }
  if (peek.case_id) await cases.lockCase(trx, peek.case_id);
  const locked =
    kind === 'payment' ? (await payments.lockPayment(trx, sourceId))?.status === 'incident'
    : kind === 'timer' ? (await timers.lockTimer(trx, sourceId))?.status === 'failed'
    : (await notices.lockNotice(trx, sourceId))?.status === 'dead';
  if (!locked) throw new DomainError('conflict', 'INCIDENT_NOT_OPEN', '该故障已处理，不能重复操作');
  return peek;
}

async function sourceRegion(trx: Db, kind: incidents.IncidentKind, sourceId: string): Promise<string | undefined> {
  if (kind === 'notice') return (await notices.getNotice(trx, sourceId))?.region_code;
  const row = kind === 'payment' ? await payments.getPayment(trx, sourceId) : await timers.getTimer(trx, sourceId);
  return row ? (await cases.getCase(trx, row.case_id))?.region_code : undefined;
}

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const admin = { roles: ['admin' as const] };

  app.get(
    '',
    {
      config: admin,
      schema: {
        operationId: 'listIncidents',
        tags: ['admin'],
        summary: '故障列表（停止重试的发放、定时器、通知）',
        description:
          'Open incidents of cases in the caller’s region and below, newest first, in keyset pages: payment deliveries that failed PAYMENT_MAX_ATTEMPTS times or were refused for good, timers that kept failing (status failed), dead-letter notices. Filter by kind. Who: admins.',
        querystring: z.object({
          kind: kindSchema.optional(),
          cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
          pageSize: z.coerce.number().int().min(1).max(100).default(20),
        }),
        response: { 200: incidentPageSchema, ...refusals('ROLE_REQUIRED') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const q = request.query;
      const rows = await incidents.listIncidents(db, { regionPrefix: actor.regionCode, kind: q.kind, after: decodeCursor(q.cursor) }, q.pageSize + 1);
      const page = rows.slice(0, q.pageSize);
      return {
        items: page.map(view),
        counts: await incidents.countIncidents(db, actor.regionCode, COUNT_CAP),
        countCap: COUNT_CAP,
        pageSize: q.pageSize,
        nextCursor: rows.length > q.pageSize ? encodeCursor(page[page.length - 1]) : null,
      };
    },
  );

  app.post(
    '/:id/retry',
    {
      config: admin,
      schema: {
        operationId: 'retryIncident',
        tags: ['admin'],
        summary: '重试故障（重新发放、重新触发或重新发送）',
        description:
          'Puts the effect back in its queue with a fresh count of attempts: a payment is delivered again as the same instruction (the same idempotency key, so a bank that did take an earlier attempt pays nothing twice), a timer is due at once, a notice is sent again with its key. Recorded in the case’s log (INCIDENT_RETRIED). Only an open incident: 409 INCIDENT_NOT_OPEN otherwise. Who: admins of the case’s region or above; another region’s incident is 404.',
        params: idParam,
        body: z.strictObject({ note: z.string().trim().max(200).optional().meta({ title: '说明' }).describe('Why, e.g. 银行接口已恢复') }).meta({ id: 'IncidentRetry' }),
        response: { 200: z.object({ id: z.string(), status: z.literal('retried') }).meta({ id: 'IncidentDecision' }), ...refusals('NOT_FOUND', 'INCIDENT_NOT_OPEN') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, async (trx) => {
        const inc = await openIncident(trx, actor, request.params.id);
        const now = engine.clock();
        const resolution = request.body.note ? `重试：${request.body.note}` : '重试';
        if (inc.kind === 'payment') {
          const p = (await payments.getPayment(trx, inc.source_id))!;
          await payments.requeue(trx, p.id, { nextRound: false, at: now, by: actor.id!, resolution });
          await outbox.insertOutbox(trx, p.case_id, 'payment.requested', { paymentId: p.id, period: p.period, amountFen: p.amount_fen, round: p.round }, now);
        } else if (inc.kind === 'timer') await timers.retryFailedTimer(trx, inc.source_id, { by: actor.id!, at: now, resolution });
        else await notices.requeueNotice(trx, inc.source_id, actor.id!, now, resolution);
        if (inc.case_id) await recordIncidentDecision(engine, trx, inc.case_id, 'INCIDENT_RETRIED', { incidentId: request.params.id, kind: inc.kind, ...(request.body.note ? { note: request.body.note } : {}) }, actor);
        return { id: request.params.id, status: 'retried' as const };
      });
    },
  );

  app.post(
    '/:id/resolve',
    {
      config: admin,
      schema: {
        operationId: 'resolveIncident',
        tags: ['admin'],
        summary: '处理故障（不再重试，记录原因）',
        description:
          'Closes an incident without running the effect again, recording who and why: a payment is abandoned (never delivered by OneWindow — paid another way, no longer due), a timer cancelled, a notice discarded. Recorded in the case’s log (INCIDENT_RESOLVED). Only an open incident: 409 INCIDENT_NOT_OPEN otherwise. Who: admins of the case’s region or above; another region’s incident is 404.',
        params: idParam,
        body: z.strictObject({ reason: z.string().trim().min(2, '请说明处理的原因').max(200).meta({ title: '处理原因' }) }).meta({ id: 'IncidentResolve' }),
        response: { 200: z.object({ id: z.string(), status: z.literal('resolved') }).meta({ id: 'IncidentResolution' }), ...refusals('NOT_FOUND', 'INCIDENT_NOT_OPEN') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, async (trx) => {
        const inc = await openIncident(trx, actor, request.params.id);
        const now = engine.clock();
        const resolution = `已处理：${request.body.reason}`;
        if (inc.kind === 'payment') await payments.abandon(trx, inc.source_id, { by: actor.id!, at: now, resolution });
        else if (inc.kind === 'timer') await timers.resolveFailedTimer(trx, inc.source_id, { by: actor.id!, at: now, resolution });
        else await notices.discardNotice(trx, inc.source_id, actor.id!, now, resolution);
        if (inc.case_id) await recordIncidentDecision(engine, trx, inc.case_id, 'INCIDENT_RESOLVED', { incidentId: request.params.id, kind: inc.kind, reason: request.body.reason }, actor);
        return { id: request.params.id, status: 'resolved' as const };
      });
    },
  );
};
export default routes;
