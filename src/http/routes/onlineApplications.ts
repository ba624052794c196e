import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { applicantSchema, type ProcedureDefinition } from '../../../workflows/index.ts';
import { actorOf } from '../auth.ts';
import { documentAs } from '../contract/documented.ts';
import { openCaseUnion } from '../contract/procedureSchemas.ts';
import { openMap, refusals } from '../schemas.ts';
import { runTransaction } from '../../db/transaction.ts';
import * as apps from '../../db/onlineApplications.ts';
import * as outbox from '../../db/outbox.ts';
import * as counters from '../../db/rateLimits.ts';
import { getRegion, listRegionsUnder } from '../../db/regions.ts';
import { DomainError, type FieldIssue } from '../../engine/errors.ts';
import { coversRegion, type Actor } from '../../engine/authorization.ts';
import { maskDeep, maskIdNumber, maskPhone } from '../../engine/masking.ts';
import { shortProcedureName } from '../../notifications/templates.ts';

/**
 * 网上申请 (issue 9, 受办分离): citizens start an application online, confirm their phone with a
 * one-time code, and only then is it submitted to the township window's 预审 queue, where a clerk
 * accepts it into a case (the same engine path as POST /api/cases) or returns it with a
 * 一次性告知. Nothing from the public surface reaches a case without a clerk. docs/online-applications.md.
 */

/** The window that receives online applications: procedures it accepts can be applied for online. */
const WINDOW = 'township-window';
export const CODE_TTL_MS = 10 * 60_000;
export const CODE_ATTEMPTS = 5;
export const CODES_PER_APPLICATION = 5;
export const RESEND_AFTER_MS = 60_000;
const TOWNSHIP_CODE = /^\d{9}$/;

const STATUS_LABELS: Record<apps.ApplicationStatus, string> = {
  draft: '待验证手机',
  submitted: '已提交，待窗口预审',
  accepted: '已受理',
  returned: '已退回',
};

const applicationId = z.string().regex(/^[A-Za-z0-9_-]{22}$/, '无效的申请编号');
const idParams = z.object({ id: applicationId });
const codeHash = (id: string, code: string) => createHash('sha256').update(`${id}:${code}`).digest('hex');

const notFound = () => new DomainError('not_found', 'NOT_FOUND', '未找到该网上申请');
const notPending = (status: apps.ApplicationStatus) =>
  new DomainError('conflict', 'APPLICATION_NOT_PENDING', status === 'draft' ? '该申请尚未验证手机号码，不能预审' : `该申请${STATUS_LABELS[status]}，不能再执行此操作`);

const materialsSchema = z
  .array(z.strictObject({ code: z.string().min(1).max(64).describe('Material code of the procedure'), count: z.number().int().min(1).max(20).describe('Copies declared') }))
  .max(30)
  .default([])
  .describe('Materials the applicant declares to hold (no files are uploaded or stored): code + number of copies');

const startBody = z.object({
  procedureId: z.string().min(1).max(64),
  regionCode: z.string().regex(TOWNSHIP_CODE, '请选择乡镇（街道）').describe('The township (乡镇/街道) whose window receives it: one of listOnlineApplicationRegions'),
  applicant: z.unknown().describe('Applicant: name, idNumber, phone (the phone the code goes to), address?, bankCard?'),
  application: z.unknown().describe("Application data, validated by the procedure's schema"),
  materials: materialsSchema,
});

const publicViewSchema = z
  .object({
    id: z.string().describe('申请编号: the only handle on the application, keep it'),
    status: z.enum(['draft', 'submitted', 'accepted', 'returned']),
    statusLabel: z.string(),
    procedureId: z.string(),
    procedureName: z.string(),
    regionCode: z.string(),
    regionName: z.string(),
    phone: z.string().describe('Masked, e.g. 138****8000'),
    createdAt: z.string(),
    submittedAt: z.string().nullable(),
    returned: z.object({ missingMaterials: z.array(z.object({ code: z.string(), name: z.string() })), note: z.string().nullable() }).nullable(),
  })
  .meta({ id: 'OnlineApplicationStatus' });

const materialView = z.object({ code: z.string(), name: z.string(), required: z.boolean(), count: z.number().int().describe('Copies declared; 0 when not declared') });

const queueItemSchema = z
  .object({
    id: z.string(),
    procedureId: z.string(),
    procedureName: z.string(),
    regionCode: z.string(),
    applicant: z.object({ name: z.string(), idNumber: z.string().describe('Masked'), phone: z.string().describe('Masked') }),
    application: openMap("The application as validated by the procedure's <Procedure>_Application schema, ID numbers, phones and bank cards masked"),
    materials: z.array(materialView).describe("The procedure's whole checklist with the declared counts"),
    createdAt: z.string(),
    submittedAt: z.string(),
  })
  .meta({ id: 'PrescreenItem' });

const queuePageSchema = z
  .object({
    items: z.array(queueItemSchema),
    total: z.number().int(),
    pageSize: z.number().int(),
    nextCursor: z.string().nullable().describe('Send as `cursor` for the next page; null on the last page'),
  })
  .meta({ id: 'PrescreenPage' });

function procedureOf(engine: { registry: { list(): ProcedureDefinition[]; latest(id: string): ProcedureDefinition } }, id: string): ProcedureDefinition | undefined {
  if (!engine.registry.list().some((d) => d.id === id)) return undefined;
  const def = engine.registry.latest(id);
  return def.acceptingDepartments.includes(WINDOW) ? def : undefined;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function encodeCursor(r: apps.OnlineApplicationRow): string {
  return Buffer.from(JSON.stringify([iso(r.submitted_at), r.id])).toString('base64url');
}

function decodeCursor(cursor: string): { submittedAt: Date; id: string } {
  const invalid = new DomainError('invalid', 'VALIDATION_FAILED', '请求参数有误，请按提示修改', [{ path: 'querystring.cursor', message: '无效的翻页标记，请从第一页重新查询' }]);
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof at !== 'string' || typeof id !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(id) || Number.isNaN(Date.parse(at))) throw invalid;
    return { submittedAt: new Date(at), id };
  } catch {
    throw invalid;
  }
}

/** The public routes, under /api/public/applications: no account; throttled per address (abuse.ts, scope apply). */
export const publicApplicationRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const cipher = engine.cipher;

  const view = async (r: apps.OnlineApplicationRow): Promise<z.output<typeof publicViewSchema>> => {
    const def = engine.registry.latest(r.procedure_id);
    const phone = String((cipher.open(r.applicant) as { phone?: string }).phone ?? '');
    return {
      id: r.id,
      status: r.status,
      statusLabel: STATUS_LABELS[r.status],
      procedureId: r.procedure_id,
      procedureName: def.name,
      regionCode: r.region_code,
      regionName: (await getRegion(db, r.region_code))?.name ?? r.region_code,
      phone: maskPhone(phone),
      createdAt: iso(r.created_at)!,
      submittedAt: iso(r.submitted_at),
      returned:
        r.status === 'returned'
          ? { missingMaterials: (r.returned_missing ?? []).map((code) => ({ code, name: def.materials.find((m) => m.code === code)?.name ?? code })), note: r.return_note }
          : null,
    };
  };

  app.get(
    '/regions',
    {
      config: { public: true },
      schema: {
        operationId: 'listOnlineApplicationRegions',
        tags: ['applications'],
        summary: '可网上申请的乡镇（街道）及可申请的事项',
        description: 'The townships whose window receives online applications, and the procedures that can be applied for online. Who: anyone (public), limited per client address.',
        security: [],
        response: {
          200: z
            .object({
              regions: z.array(z.object({ code: z.string(), name: z.string(), parentName: z.string().nullable() })),
              procedures: z.array(z.object({ id: z.string(), name: z.string(), materials: z.array(z.object({ code: z.string(), name: z.string(), required: z.boolean() })) })),
            })
            .meta({ id: 'OnlineApplicationChoices' }),
          ...refusals('RATE_LIMITED'),
        },
      },
    },
    async () => {
      const all = await listRegionsUnder(db, '');
      const names = new Map(all.map((r) => [r.code, r.name]));
      const regions = all.filter((r) => TOWNSHIP_CODE.test(r.code)).map((r) => ({ code: r.code, name: r.name, parentName: r.parent_code ? (names.get(r.parent_code) ?? null) : null }));
      const procedures = engine.registry
        .list()
        .map((d) => d.id)
        .filter((id, i, ids) => ids.indexOf(id) === i)
        .map((id) => procedureOf(engine, id))
        .filter((d): d is ProcedureDefinition => !!d)
        .map((d) => ({ id: d.id, name: d.name, materials: d.materials.map((m) => ({ code: m.code, name: m.name, required: m.required })) }));
      return { regions, procedures };
    },
  );

  app.post(
    '/',
    {
      config: { public: true },
      bodyLimit: 16 * 1024,
      schema: {
        operationId: 'startOnlineApplication',
        tags: ['applications'],
        summary: '群众网上申请：填写申请（须再验证手机号码才会提交）',
        description:
          'Starts an online application: the same applicant and application schemas as openCase (one branch per procedure, shown as OpenCaseRequest), plus the township whose window receives it and the materials the applicant declares to hold (no file is uploaded). ' +
          'The application is a draft until the phone is confirmed (requestOnlineApplicationCode, confirmOnlineApplication); a draft never reaches the window. ' +
          'The returned id is 128 random bits and the only handle on it. Who: anyone (public), limited per client address; bodies over 16 KiB are refused.',
        security: [],
        body: documentAs(startBody, openCaseUnion(engine.registry.list())),
        response: { 201: publicViewSchema, ...refusals('UNKNOWN_PROCEDURE', 'INVALID_APPLICATION', 'RATE_LIMITED', 'BODY_TOO_LARGE') },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const def = procedureOf(engine, body.procedureId);
      if (!def) throw new DomainError('invalid', 'UNKNOWN_PROCEDURE', '该事项不能网上申请', [{ path: 'procedureId', message: '该事项不能网上申请' }]);
      const applicant = applicantSchema.safeParse(body.applicant);
      const application = def.applicationSchema.safeParse(body.application ?? {});
      const issues: FieldIssue[] = [];
      if (!applicant.success) issues.push(...applicant.error.issues.map((i) => ({ path: ['applicant', ...i.path].join('.'), message: i.message })));
      if (!application.success) issues.push(...application.error.issues.map((i) => ({ path: ['application', ...i.path].join('.'), message: i.message })));
      const region = await getRegion(db, body.regionCode);
      if (!region) issues.push({ path: 'regionCode', message: '请选择乡镇（街道）' });
      const seen = new Set<string>();
      body.materials.forEach((m, i) => {
        if (!def.materials.some((x) => x.code === m.code)) issues.push({ path: `materials.${i}.code`, message: '不是本事项的材料' });
        else if (seen.has(m.code)) issues.push({ path: `materials.${i}.code`, message: '材料重复' });
        seen.add(m.code);
      });
      if (issues.length || !applicant.success || !application.success) throw new DomainError('invalid', 'INVALID_APPLICATION', '申请信息有误，请按提示修改', issues);
      const row = {
        id: randomBytes(16).toString('base64url'),
        procedure_id: def.id,
        region_code: body.regionCode,
        applicant_name: applicant.data.name,
        applicant: cipher.seal(applicant.data) as Record<string, unknown>,
        application: cipher.seal(withReceived(application.data as Record<string, unknown>, [])),
        materials: body.materials,
        created_at: engine.clock(),
      };
      await apps.insertApplication(db, row);
      reply.code(201).header('cache-control', 'no-store');
      return view((await apps.getApplication(db, row.id))!);
    },
  );

  app.get(
    '/:id',
    {
      config: { public: true },
      schema: {
        operationId: 'getOnlineApplication',
        tags: ['applications'],
        summary: '群众查看网上申请的状态',
        description: 'Status of an online application (draft, submitted, accepted, returned with the 一次性告知); personal data masked. Who: anyone holding its id (public), limited per client address.',
        security: [],
        params: idParams,
        response: { 200: publicViewSchema, ...refusals('NOT_FOUND', 'RATE_LIMITED') },
      },
    },
    async (request, reply) => {
      const row = await apps.getApplication(db, request.params.id);
      if (!row) throw notFound();
      reply.header('cache-control', 'no-store');
      return view(row);
    },
  );

  app.post(
    '/:id/phone-code',
    {
      config: { public: true },
      bodyLimit: 1024,
      schema: {
        operationId: 'requestOnlineApplicationCode',
        tags: ['applications'],
        summary: '发送手机验证码（6位，10分钟内有效）',
        description:
          "Sends a 6-digit one-time code by SMS (through the notice dispatcher) to the applicant's phone; a new code replaces the previous one. Only its hash is stored; it expires in 10 minutes and allows 5 attempts. " +
          'At most one code a minute and 5 per application; each client address has an hourly SMS budget. Who: anyone holding the id of a draft application (public), limited per client address.',
        security: [],
        params: idParams,
        response: {
          202: z
            .object({ sentTo: z.string().describe('Masked phone'), expiresAt: z.string(), resendAfterSeconds: z.number().int() })
            .meta({ id: 'PhoneCodeSent' }),
          ...refusals('NOT_FOUND', 'APPLICATION_NOT_PENDING', 'RATE_LIMITED'),
        },
      },
    },
    async (request, reply) => {
      const now = engine.clock();
      const id = request.params.id;
      const result = await runTransaction(db, async (trx) => {
        const row = await apps.lockApplication(trx, id);
        if (!row) throw notFound();
        if (row.status !== 'draft') throw notPending(row.status);
        if (row.code_sent_at && now.getTime() - new Date(row.code_sent_at).getTime() < RESEND_AFTER_MS) {
          const wait = Math.ceil((RESEND_AFTER_MS - (now.getTime() - new Date(row.code_sent_at).getTime())) / 1000);
          throw new DomainError('too_many', 'RATE_LIMITED', `验证码已发送，请${wait}秒后再试`, { retryAfterSeconds: wait });
        }
        if (row.codes_sent >= CODES_PER_APPLICATION) throw new DomainError('too_many', 'RATE_LIMITED', '验证码发送次数过多，请重新填写申请或到窗口办理');
        const { hits, windowStart } = await counters.hit(trx, `apply-sms-ip:${request.ip}`, now, 3_600_000);
        if (hits > app.deps.limits.applyCodesPerAddressPerHour) {
          throw new DomainError('too_many', 'RATE_LIMITED', '当前网络发送验证码过于频繁，请稍后再试', {
            retryAfterSeconds: Math.max(1, Math.ceil((windowStart.getTime() + 3_600_000 - now.getTime()) / 1000)),
          });
        }
        const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
        const expiresAt = new Date(now.getTime() + CODE_TTL_MS);
        await apps.updateApplication(trx, id, { code_hash: codeHash(id, code), code_expires_at: expiresAt, code_attempts: 0, code_sent_at: now, codes_sent: row.codes_sent + 1 });
        // The code is sealed in the notice; the dispatcher opens it only to render the text.
        await outbox.insertApplicationNotice(trx, id, { kind: 'phone_code', payload: { code: cipher.encrypt(code), minutes: CODE_TTL_MS / 60_000 } }, now);
        return { sentTo: maskPhone(String((cipher.open(row.applicant) as { phone?: string }).phone ?? '')), expiresAt: expiresAt.toISOString(), resendAfterSeconds: RESEND_AFTER_MS / 1000 };
      });
      reply.code(202);
      return result;
    },
  );

  app.post(
    '/:id/confirm',
    {
      config: { public: true },
      bodyLimit: 1024,
      schema: {
        operationId: 'confirmOnlineApplication',
        tags: ['applications'],
        summary: '验证手机号码并提交申请（进入窗口预审）',
        description:
          "Checks the phone code; when it matches, the application is submitted to its township window's 预审 queue. A wrong code uses one of 5 attempts; an expired or used-up code needs a new one. " +
          'Who: anyone holding the id of a draft application (public), limited per client address.',
        security: [],
        params: idParams,
        body: z.object({ code: z.string().regex(/^\d{6}$/, '验证码为6位数字') }),
        response: { 200: publicViewSchema, ...refusals('NOT_FOUND', 'APPLICATION_NOT_PENDING', 'PHONE_CODE_EXPIRED', 'WRONG_PHONE_CODE', 'VALIDATION_FAILED', 'RATE_LIMITED') },
      },
    },
    async (request) => {
      const now = engine.clock();
      const id = request.params.id;
      // A wrong attempt must be counted even though the request fails: the transaction returns
      // the outcome and the refusal is thrown after it committed.
      const outcome = await runTransaction(db, async (trx) => {
        const row = await apps.lockApplication(trx, id);
        if (!row) throw notFound();
        if (row.status !== 'draft') throw notPending(row.status);
        if (!row.code_hash || !row.code_expires_at || new Date(row.code_expires_at) <= now || row.code_attempts >= CODE_ATTEMPTS) return { ok: false as const, left: -1 };
        const given = Buffer.from(codeHash(id, request.body.code), 'hex');
        if (!timingSafeEqual(given, Buffer.from(row.code_hash, 'hex'))) {
          await apps.updateApplication(trx, id, { code_attempts: row.code_attempts + 1 });
          return { ok: false as const, left: CODE_ATTEMPTS - row.code_attempts - 1 };
        }
        await apps.updateApplication(trx, id, { status: 'submitted', submitted_at: now, code_hash: null, code_expires_at: null });
        return { ok: true as const };
      });
      if (!outcome.ok) {
        if (outcome.left <= 0) throw new DomainError('conflict', 'PHONE_CODE_EXPIRED', outcome.left === 0 ? '验证码错误次数过多，请重新获取验证码' : '验证码已失效，请重新获取验证码');
        throw new DomainError('invalid', 'WRONG_PHONE_CODE', `验证码错误，还可尝试${outcome.left}次`, [{ path: 'code', message: `验证码错误，还可尝试${outcome.left}次` }]);
      }
      return view((await apps.getApplication(db, id))!);
    },
  );
};

/**
 * The window records what it received in `submittedMaterials` (已收取的申请材料): at 预审 that is
 * what the clerk ticked, never what the citizen typed (a start keeps the citizen's list empty).
 */
function withReceived(application: Record<string, unknown>, received: string[]): Record<string, unknown> {
  return 'submittedMaterials' in application ? { ...application, submittedMaterials: received } : application;
}

/** The 预审 queue for the township window's clerks, under /api/applications. */
export const prescreenRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, engine } = app.deps;
  const cipher = engine.cipher;

  const windowProcedures = (actor: Actor) =>
    actor.department === WINDOW
      ? engine.registry
          .list()
          .map((d) => d.id)
          .filter((id, i, ids) => ids.indexOf(id) === i && !!procedureOf(engine, id))
      : [];

  const item = (r: apps.OnlineApplicationRow): z.output<typeof queueItemSchema> => {
    const def = engine.registry.latest(r.procedure_id);
    const a = cipher.open(r.applicant) as { name: string; idNumber: string; phone: string };
    const declared = new Map(r.materials.map((m) => [m.code, m.count]));
    return {
      id: r.id,
      procedureId: r.procedure_id,
      procedureName: def.name,
      regionCode: r.region_code,
      applicant: { name: a.name, idNumber: maskIdNumber(a.idNumber), phone: maskPhone(a.phone) },
      application: maskDeep(cipher.open(r.application)),
      materials: def.materials.map((m) => ({ code: m.code, name: m.name, required: m.required, count: declared.get(m.code) ?? 0 })),
      createdAt: iso(r.created_at)!,
      submittedAt: iso(r.submitted_at)!,
    };
  };

  /** A submitted application the clerk's window may decide on, locked; else 404 (nothing revealed) or 409. */
  const decidable = async (trx: Parameters<typeof apps.lockApplication>[0], actor: Actor, id: string) => {
    const row = await apps.lockApplication(trx, id);
    if (!row || !coversRegion(actor, row.region_code) || !windowProcedures(actor).includes(row.procedure_id) || row.status === 'draft') throw notFound();
    if (row.status !== 'submitted') throw notPending(row.status);
    return row;
  };

  app.get(
    '/',
    {
      config: { roles: ['clerk'] },
      schema: {
        operationId: 'listPrescreenApplications',
        tags: ['applications'],
        summary: '网上申请预审队列（本乡镇窗口）',
        description:
          "Submitted (phone-confirmed) online applications to the caller's window, in the caller's region and below, oldest first; personal data masked. Drafts never appear. " +
          'Who: clerks of the township window (role `clerk`); other clerks see an empty queue.',
        querystring: z.object({
          status: z.literal('submitted').default('submitted'),
          cursor: z.string().max(200).optional(),
          pageSize: z.coerce.number().int().min(1).max(100).default(20),
        }),
        response: { 200: queuePageSchema, ...refusals('ROLE_REQUIRED', 'VALIDATION_FAILED') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const q = request.query;
      const f = { regionPrefix: actor.regionCode, procedureIds: windowProcedures(actor) };
      const rows = await apps.listSubmitted(db, { ...f, after: q.cursor ? decodeCursor(q.cursor) : undefined }, q.pageSize + 1);
      const page = rows.slice(0, q.pageSize);
      return {
        items: page.map(item),
        total: await apps.countSubmitted(db, f),
        pageSize: q.pageSize,
        nextCursor: rows.length > q.pageSize ? encodeCursor(page[page.length - 1]) : null,
      };
    },
  );

  app.get(
    '/:id',
    {
      config: { roles: ['clerk'] },
      schema: {
        operationId: 'getPrescreenApplication',
        tags: ['applications'],
        summary: '预审：查看一件网上申请',
        description: 'One submitted online application, as in the queue. Who: clerks of the township window whose region covers it.',
        params: idParams,
        response: { 200: queueItemSchema, ...refusals('ROLE_REQUIRED', 'NOT_FOUND', 'APPLICATION_NOT_PENDING') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      return runTransaction(db, async (trx) => item(await decidable(trx, actor, request.params.id)));
    },
  );

  app.post(
    '/:id/accept',
    {
      config: { roles: ['clerk'] },
      schema: {
        operationId: 'acceptOnlineApplication',
        tags: ['applications'],
        summary: '预审通过：受理为办件（与窗口受理相同）',
        description:
          'Opens a case from the application through the same engine path as openCase (same reference rules, the 受理 notice with the tracking code goes to the applicant); CASE_OPENED notes the application id and the materials the clerk ticked as received (a subset of the declared ones). ' +
          "Who: a clerk of the township window whose region covers the application; the case belongs to the application's township.",
        params: idParams,
        body: z.object({ materialsReceived: z.array(z.string().min(1).max(64)).max(30).default([]).describe('Codes of the declared materials the clerk received') }),
        response: {
          201: z
            .object({ applicationId: z.string(), caseId: z.string(), reference: z.string().describe('受理编号'), trackingCode: z.string().describe('查询码: shown once') })
            .meta({ id: 'AcceptedOnlineApplication' }),
          ...refusals('ROLE_REQUIRED', 'NOT_FOUND', 'APPLICATION_NOT_PENDING', 'VALIDATION_FAILED', 'INVALID_APPLICATION', 'CALENDAR_YEAR_MISSING'),
        },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const result = await runTransaction(db, async (trx) => {
        const row = await decidable(trx, actor, request.params.id);
        const declared = new Set(row.materials.map((m) => m.code));
        const received = [...new Set(request.body.materialsReceived)];
        const wrong = received.findIndex((c) => !declared.has(c));
        if (wrong >= 0) throw new DomainError('invalid', 'VALIDATION_FAILED', '请求参数有误，请按提示修改', [{ path: `body.materialsReceived.${wrong}`, message: '申请人未申报该材料' }]);
        // The window's own path: the case is the township's, as if its clerk had registered it there.
        const opened = await engine.openCase(
          trx,
          { ...actor, regionCode: row.region_code },
          { procedureId: row.procedure_id, applicant: cipher.open(row.applicant), application: withReceived(cipher.open(row.application), received) },
          { onlineApplicationId: row.id, materialsReceived: received },
        );
        await apps.updateApplication(trx, row.id, { status: 'accepted', decided_at: engine.clock(), decided_by: actor.id, case_id: opened.id });
        return { applicationId: row.id, caseId: opened.id, reference: opened.reference, trackingCode: opened.trackingCode };
      });
      reply.code(201).header('cache-control', 'no-store');
      return result;
    },
  );

  app.post(
    '/:id/return',
    {
      config: { roles: ['clerk'] },
      schema: {
        operationId: 'returnOnlineApplication',
        tags: ['applications'],
        summary: '预审退回：一次性告知所缺材料',
        description:
          "Returns the application with a 一次性告知: every missing material at once and a note; the applicant is told by SMS (through the notice dispatcher) and may apply again. No case is opened. " +
          'Who: a clerk of the township window whose region covers the application.',
        params: idParams,
        body: z
          .object({
            missingMaterials: z.array(z.string().min(1).max(64)).max(30).default([]).describe("Material codes of the procedure's checklist"),
            note: z.string().trim().max(500).optional(),
          })
          .refine((b) => b.missingMaterials.length > 0 || !!b.note, { message: '请勾选所缺材料或填写说明', path: ['missingMaterials'] }),
        response: { 200: z.object({ applicationId: z.string(), status: z.literal('returned') }).meta({ id: 'ReturnedOnlineApplication' }), ...refusals('ROLE_REQUIRED', 'NOT_FOUND', 'APPLICATION_NOT_PENDING', 'VALIDATION_FAILED') },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      return runTransaction(db, async (trx) => {
        const row = await decidable(trx, actor, request.params.id);
        const def = engine.registry.latest(row.procedure_id);
        const missing = [...new Set(request.body.missingMaterials)];
        const wrong = missing.findIndex((c) => !def.materials.some((m) => m.code === c));
        if (wrong >= 0) throw new DomainError('invalid', 'VALIDATION_FAILED', '请求参数有误，请按提示修改', [{ path: `body.missingMaterials.${wrong}`, message: '不是本事项的材料' }]);
        const now = engine.clock();
        const note = request.body.note || null;
        await apps.updateApplication(trx, row.id, { status: 'returned', decided_at: now, decided_by: actor.id, returned_missing: missing, return_note: note, code_hash: null });
        await outbox.insertApplicationNotice(
          trx,
          row.id,
          {
            kind: 'application_returned',
            payload: { procedure: shortProcedureName(def.name), items: missing.map((c) => def.materials.find((m) => m.code === c)!.name), ...(note ? { note } : {}) },
          },
          now,
        );
        return { applicationId: row.id, status: 'returned' as const };
      });
    },
  );
};
