import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import * as notices from '../../db/notices.ts';
import { DomainError, notFound } from '../../engine/errors.ts';
import type { Actor } from '../../engine/engine.ts';
import { COUNT_CAP } from '../../engine/queries/inbox.ts';
import { NOTICE_KINDS, NOTICE_KIND_LABELS } from '../../notifications/templates.ts';
import { actorOf } from '../auth.ts';
import { command } from '../idempotency.ts';
import { refusals } from '../schemas.ts';

// Citizen notices for admins (issue 9, docs/notifications.md): the delivery queue with its dead
// letters, retrying or discarding one, and what the development sink "sent". An admin sees the
// notices of cases in their region and below; another region's notice does not exist for them.

const STATUSES = ['pending', 'sent', 'dead', 'discarded'] as const;
const STATUS_LABELS: Record<(typeof STATUSES)[number], string> = { pending: '待发送', sent: '已发送', dead: '投递失败', discarded: '已放弃' };

const noticeSchema = z
  .object({
    id: z.string(),
    caseId: z.string().nullable().describe('Null for a notice of an online application (网上申请: phone code, return)'),
    reference: z.string().describe('受理编号 of the case'),
    kind: z.enum(NOTICE_KINDS),
    kindLabel: z.string().describe('zh-CN'),
    status: z.enum(STATUSES).describe('pending: queued or retrying; sent: the channel confirmed it; dead: gave up (dead letter); discarded: an admin dropped the dead letter'),
    statusLabel: z.string().describe('zh-CN'),
    attempts: z.number().int().describe('Attempts since it was queued (or last retried by an admin)'),
    nextAttemptAt: z.string().nullable().describe('While pending: when the next attempt is due'),
    lastError: z.string().nullable().describe('The last failure, redacted (never a phone number)'),
    channel: z.string().nullable().describe('dev-sink or http-gateway'),
    segments: z.number().int().nullable().describe('SMS segments of the text sent'),
    sentAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    resolvedAt: z.string().nullable().describe("An admin's last retry or discard of it as a dead letter"),
    resolution: z.string().nullable(),
  })
  .meta({ id: 'SmsNotice' });

const countsSchema = z
  .object(Object.fromEntries(STATUSES.map((s) => [s, z.object({ count: z.number().int(), exact: z.boolean() })])) as Record<(typeof STATUSES)[number], z.ZodObject<{ count: z.ZodNumber; exact: z.ZodBoolean }>>)
  .describe('Notices per status, applying every filter sent but status; counts stop at countCap');

const noticePageSchema = z
  .object({
    items: z.array(noticeSchema),
    total: z.number().int().describe('Notices matching the filters (stops at countCap)'),
    totalExact: z.boolean(),
    pageSize: z.number().int(),
    nextCursor: z.string().nullable().describe('Send as `cursor` for the next (older) page; null on the last page'),
    counts: countsSchema,
    countCap: z.number().int(),
  })
  .meta({ id: 'SmsNoticePage' });

const sinkMessageSchema = z
  .object({
    id: z.string(),
    noticeId: z.string(),
    caseId: z.string().nullable().describe('Null for a notice of an online application (网上申请: phone code, return)'),
    recipient: z.string().describe('Masked, e.g. 138****8000'),
    text: z.string().describe('The SMS text as the citizen would read it'),
    segments: z.number().int(),
    createdAt: z.string(),
  })
  .meta({ id: 'SinkMessage' });

const cursor = z.string().regex(/^[1-9]\d{0,17}$/, '无效的翻页游标').optional().describe('nextCursor of the previous page');
const noticeParams = z.object({ id: z.string().regex(/^[1-9]\d{0,17}$/, '无效的通知编号') });

const view = (r: notices.NoticeRow) => ({
  id: r.id,
  caseId: r.case_id,
  reference: String(r.payload.reference ?? ''),
  kind: r.kind as (typeof NOTICE_KINDS)[number],
  kindLabel: NOTICE_KIND_LABELS[r.kind as (typeof NOTICE_KINDS)[number]] ?? r.kind,
  status: r.status,
  statusLabel: STATUS_LABELS[r.status],
  attempts: r.attempts,
  nextAttemptAt: r.status === 'pending' ? new Date(r.next_attempt_at).toISOString() : null,
  lastError: r.last_error,
  channel: r.channel,
  segments: r.segments === null ? null : Number(r.segments),
  sentAt: r.sent_at ? new Date(r.sent_at).toISOString() : null,
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
  resolvedAt: r.resolved_at ? new Date(r.resolved_at).toISOString() : null,
  resolution: r.resolution,
});

/** A dead letter of the admin's region, locked for the decision; anything else is refused. */
async function deadLetter(trx: Parameters<typeof notices.lockNotice>[0], actor: Actor, id: string) {
  const row = await notices.lockNotice(trx, id);
  if (!row || !row.region_code.startsWith(actor.regionCode)) throw notFound('通知');
  if (row.status !== 'dead') throw new DomainError('conflict', 'NOTICE_NOT_DEAD', `该通知${STATUS_LABELS[row.status]}，只有投递失败的通知可以重新发送或放弃`);
  return row;
}

const routes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const admin = { roles: ['admin' as const] };

  app.get(
    '',
    {
      config: admin,
      schema: {
        operationId: 'listNotices',
        tags: ['admin'],
        summary: '群众通知投递队列（含投递失败的死信）',
        description:
          'Citizen notices (SMS) of cases in the caller’s region and below, newest first, filtered by status and kind (and case), in keyset pages, with counts per status. Dead letters (`status=dead`) are those the dispatcher gave up on. Who: admins.',
        querystring: z.object({
          status: z.enum(STATUSES).optional(),
          kind: z.enum(NOTICE_KINDS).optional(),
          caseId: z.uuid('无效的办件编号').optional(),
          cursor,
          pageSize: z.coerce.number().int().min(1).max(100).default(20),
        }),
        response: { 200: noticePageSchema, ...refusals('ROLE_REQUIRED') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const q = request.query;
      const filter = { regionPrefix: actor.regionCode, status: q.status, kind: q.kind, caseId: q.caseId };
      const rows = await notices.listNotices(db, { ...filter, beforeId: q.cursor }, q.pageSize + 1);
      const page = rows.slice(0, q.pageSize);
      const total = await notices.countNotices(db, filter, COUNT_CAP);
      const counts = Object.fromEntries(
        await Promise.all(
          STATUSES.map(async (s) => {
            const n = await notices.countNotices(db, { ...filter, status: s }, COUNT_CAP);
            return [s, { count: Math.min(n, COUNT_CAP), exact: n < COUNT_CAP }];
          }),
        ),
      ) as z.infer<typeof countsSchema>;
      return {
        items: page.map(view),
        total: Math.min(total, COUNT_CAP),
        totalExact: total < COUNT_CAP,
        pageSize: q.pageSize,
        nextCursor: rows.length > q.pageSize ? page[page.length - 1].id : null,
        counts,
        countCap: COUNT_CAP,
      };
    },
  );

  app.post(
    '/:id/retry',
    {
      config: admin,
      schema: {
        operationId: 'retryNotice',
        tags: ['admin'],
        summary: '重新发送投递失败的通知',
        description:
          'Puts a dead-lettered notice back in the queue with a fresh count of attempts, due now; it keeps its idempotency key, so a gateway that did deliver an earlier attempt delivers nothing twice. Only a dead letter: another status is 409 NOTICE_NOT_DEAD. Who: admins of the case’s region or above; another region’s notice is 404.',
        params: noticeParams,
        body: z.strictObject({ note: z.string().trim().max(200).optional().describe('Why, e.g. 号码已更正') }).meta({ id: 'SmsNoticeRetry' }),
        response: { 200: noticeSchema, ...refusals('NOT_FOUND', 'NOTICE_NOT_DEAD') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, async (trx) => {
        const row = await deadLetter(trx, actor, request.params.id);
        await notices.requeueNotice(trx, row.id, actor.id!, engine.clock(), request.body.note ? `重新发送：${request.body.note}` : '重新发送');
        return view((await notices.getNotice(trx, row.id))!);
      });
    },
  );

  app.post(
    '/:id/discard',
    {
      config: admin,
      schema: {
        operationId: 'discardNotice',
        tags: ['admin'],
        summary: '放弃投递失败的通知（记录原因）',
        description:
          'Resolves a dead-lettered notice without sending it (the citizen was told another way, the number is void…), recording who and why; it is never sent. Only a dead letter: another status is 409 NOTICE_NOT_DEAD. Who: admins of the case’s region or above; another region’s notice is 404.',
        params: noticeParams,
        body: z.strictObject({ reason: z.string().trim().min(2, '请说明放弃的原因').max(200) }).meta({ id: 'SmsNoticeDiscard' }),
        response: { 200: noticeSchema, ...refusals('NOT_FOUND', 'NOTICE_NOT_DEAD') },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      return command(db, request, reply, 200, async (trx) => {
        const row = await deadLetter(trx, actor, request.params.id);
        await notices.discardNotice(trx, row.id, actor.id!, engine.clock(), `放弃：${request.body.reason}`);
        return view((await notices.getNotice(trx, row.id))!);
      });
    },
  );

  app.get(
    '/sink-messages',
    {
      config: admin,
      schema: {
        operationId: 'listSinkMessages',
        tags: ['admin'],
        summary: '开发沙箱：已“发送”的短信',
        description:
          'What the development sink (the channel when no SMS gateway is configured) recorded instead of sending: the text as the citizen would read it, the number masked, newest first, in keyset pages. Empty when the HTTP gateway is the channel. Who: admins (cases of their region and below).',
        querystring: z.object({ caseId: z.uuid('无效的办件编号').optional(), cursor, pageSize: z.coerce.number().int().min(1).max(100).default(20) }),
        response: {
          200: z.object({ items: z.array(sinkMessageSchema), pageSize: z.number().int(), nextCursor: z.string().nullable() }).meta({ id: 'SinkMessagePage' }),
          ...refusals('ROLE_REQUIRED'),
        },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const q = request.query;
      const rows = await notices.listSinkMessages(db, { regionPrefix: actor.regionCode, caseId: q.caseId, beforeId: q.cursor }, q.pageSize + 1);
      const page = rows.slice(0, q.pageSize);
      return {
        items: page.map((r) => ({
          id: r.id,
          noticeId: r.notice_id,
          caseId: r.case_id,
          recipient: r.recipient_masked,
          text: engine.cipher.decrypt(r.body),
          segments: Number(r.segments),
          createdAt: new Date(r.created_at).toISOString(),
        })),
        pageSize: q.pageSize,
        nextCursor: rows.length > q.pageSize ? page[page.length - 1].id : null,
      };
    },
  );
};
export default routes;
