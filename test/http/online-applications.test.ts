import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// Issue 9, 网上申请 (受办分离): "An online application with a confirmed phone reaches the 预审
// queue and becomes a case; an unconfirmed one never does; the public endpoints are throttled."
const ctx = useTestApp();
const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);
const BASE = '/api/public/applications';

const start = (body: object, remoteAddress = '203.0.113.10', app = ctx.app) => app.inject({ method: 'POST', url: BASE, payload: body, remoteAddress });
const pub = (method: 'GET' | 'POST', url: string, body?: object, remoteAddress = '203.0.113.10', app = ctx.app) =>
  app.inject({ method, url: `${BASE}${url}`, ...(body ? { payload: body } : {}), remoteAddress });

const valid = {
  procedureId: 'social-assistance',
  regionCode: '330106001',
  applicant,
  application,
  materials: [
    { code: 'application-form', count: 1 },
    { code: 'id-hukou', count: 2 },
    { code: 'income-declaration', count: 1 },
  ],
};

async function started(body: object = valid) {
  const res = await start(body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; status: string };
}

/** The code as the SMS carries it: sealed in the newest phone-code notice of the application. */
async function lastCode(id: string): Promise<string> {
  const row = await ctx.database.db('outbox').where({ application_id: id, kind: 'notice.phone_code' }).orderBy('id', 'desc').first();
  const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
  return cipher.decrypt(payload.code);
}

async function confirmed(body: object = valid) {
  const a = await started(body);
  expect((await pub('POST', `/${a.id}/phone-code`)).statusCode).toBe(202);
  const res = await pub('POST', `/${a.id}/confirm`, { code: await lastCode(a.id) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { id: string; status: string };
}

async function queue(user: string) {
  const res = await (await ctx.as(user)).get('/api/applications?status=submitted&pageSize=100');
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { items: any[]; total: number };
}

describe('online application → 预审 → case', () => {
  it('a confirmed application reaches its township window, masked, and becomes a case with the window’s reference and the application noted', async () => {
    const a = await started();
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.status).toBe('draft');
    const sent = await pub('POST', `/${a.id}/phone-code`);
    expect(sent.statusCode, sent.body).toBe(202);
    expect(sent.json()).toMatchObject({ sentTo: '138****8000', resendAfterSeconds: 60 });
    expect(new Date(sent.json().expiresAt).getTime() - ctx.clock.now().getTime()).toBe(10 * 60_000);

    const ok = await pub('POST', `/${a.id}/confirm`, { code: await lastCode(a.id) });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'submitted', statusLabel: '已提交，待窗口预审', regionName: '北山街道（演示）', phone: '138****8000' });

    const item = (await queue('clerk.beishan')).items.find((i) => i.id === a.id);
    expect(item).toMatchObject({ procedureName: '最低生活保障（低保）申请', regionCode: '330106001', applicant: { name: applicant.name, idNumber: '110***********002X', phone: '138****8000' } });
    expect(item.materials.find((m: any) => m.code === 'id-hukou')).toMatchObject({ name: '居民身份证、户口簿', required: true, count: 2 });
    expect(item.materials.find((m: any) => m.code === 'verification-authorization')).toMatchObject({ count: 0 });
    expect(JSON.stringify(item)).not.toContain(applicant.idNumber);
    expect(JSON.stringify(item)).not.toContain(applicant.bankCard);
    // Another township's window does not see it, nor can it open it.
    expect((await queue('clerk.xixi')).items.some((i) => i.id === a.id)).toBe(false);
    expect((await (await ctx.as('clerk.xixi')).post(`/api/applications/${a.id}/accept`, { materialsReceived: [] })).statusCode).toBe(404);
    expect((await (await ctx.as('clerk.xixi')).get(`/api/applications/${a.id}`)).statusCode).toBe(404);

    const clerk = await ctx.as('clerk.beishan');
    const accepted = await clerk.post(`/api/applications/${a.id}/accept`, { materialsReceived: ['application-form', 'id-hukou'] });
    expect(accepted.statusCode, accepted.body).toBe(201);
    const { caseId, reference, trackingCode } = accepted.json();
    expect(reference).toMatch(/^DB-330106001-\d{6}-\d{4}-\d$/);
    expect(trackingCode).toHaveLength(8);
    const view = (await clerk.get(`/api/cases/${caseId}`)).json();
    expect(view).toMatchObject({ regionCode: '330106001', applicant: { name: applicant.name }, application: { submittedMaterials: ['application-form', 'id-hukou'] } });
    expect(view.history[0]).toMatchObject({ type: 'CASE_OPENED', payload: { channel: '网上申请', onlineApplicationId: a.id, materialsReceived: ['application-form', 'id-hukou'] } });
    // The citizen gets the 受理 notice (reference and code) like at the window.
    expect(await ctx.database.db('outbox').where({ case_id: caseId, kind: 'notice.accepted' }).count({ n: '*' }).then((r) => Number(r[0].n))).toBe(1);
    expect((await pub('GET', `/${a.id}`)).json()).toMatchObject({ status: 'accepted', statusLabel: '已受理' });
    expect((await queue('clerk.beishan')).items.some((i) => i.id === a.id)).toBe(false);
    // Once only.
    const again = await clerk.post(`/api/applications/${a.id}/accept`, { materialsReceived: [] });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('APPLICATION_NOT_PENDING');
  });

  it('an unconfirmed application is never listed and cannot be accepted or returned', async () => {
    const a = await started();
    await pub('POST', `/${a.id}/phone-code`);
    expect((await queue('clerk.beishan')).items.some((i) => i.id === a.id)).toBe(false);
    const clerk = await ctx.as('clerk.beishan');
    expect((await clerk.post(`/api/applications/${a.id}/accept`, { materialsReceived: [] })).statusCode).toBe(404);
    expect((await clerk.post(`/api/applications/${a.id}/return`, { note: '请到窗口' })).statusCode).toBe(404);
    expect((await clerk.get(`/api/applications/${a.id}`)).statusCode).toBe(404);
    expect(await ctx.database.db('cases').where('applicant_name', applicant.name).count({ n: '*' }).then((r) => Number(r[0].n))).toBe(1); // only the one accepted above
  });

  it('refuses materials not declared, and a return is a 一次性告知 the applicant is sent', async () => {
    const a = await confirmed();
    const clerk = await ctx.as('clerk.beishan');
    const wrong = await clerk.post(`/api/applications/${a.id}/accept`, { materialsReceived: ['verification-authorization'] });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.json().details[0].path).toBe('body.materialsReceived.0');
    expect((await clerk.post(`/api/applications/${a.id}/return`, {})).statusCode).toBe(422);
    const returned = await clerk.post(`/api/applications/${a.id}/return`, { missingMaterials: ['verification-authorization'], note: '须全体家庭成员签字' });
    expect(returned.statusCode, returned.body).toBe(200);
    expect((await pub('GET', `/${a.id}`)).json()).toMatchObject({
      status: 'returned',
      returned: { missingMaterials: [{ code: 'verification-authorization', name: '家庭经济状况核对授权书' }], note: '须全体家庭成员签字' },
    });
    const notice = await ctx.database.db('outbox').where({ application_id: a.id, kind: 'notice.application_returned' }).first();
    expect(notice).toBeTruthy();
    expect((await clerk.post(`/api/applications/${a.id}/accept`, { materialsReceived: [] })).json().code).toBe('APPLICATION_NOT_PENDING');
  });
});

describe('phone confirmation', () => {
  it('allows 5 attempts per code, then needs a new one; the right code after that fails too', async () => {
    const a = await started();
    await pub('POST', `/${a.id}/phone-code`);
    const code = await lastCode(a.id);
    const wrongCode = code === '000000' ? '000001' : '000000';
    for (let left = 4; left >= 1; left--) {
      const res = await pub('POST', `/${a.id}/confirm`, { code: wrongCode });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ code: 'WRONG_PHONE_CODE', message: `验证码错误，还可尝试${left}次` });
    }
    const fifth = await pub('POST', `/${a.id}/confirm`, { code: wrongCode });
    expect(fifth.statusCode).toBe(409);
    expect(fifth.json()).toMatchObject({ code: 'PHONE_CODE_EXPIRED', message: '验证码错误次数过多，请重新获取验证码' });
    expect((await pub('POST', `/${a.id}/confirm`, { code })).json().code).toBe('PHONE_CODE_EXPIRED');
    // A new code within the minute is refused; after it, the new code works.
    const soon = await pub('POST', `/${a.id}/phone-code`);
    expect(soon.statusCode).toBe(429);
    expect(soon.json()).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 60 } });
    ctx.clock.advance(60_000);
    expect((await pub('POST', `/${a.id}/phone-code`)).statusCode).toBe(202);
    expect((await pub('POST', `/${a.id}/confirm`, { code: await lastCode(a.id) })).json().status).toBe('submitted');
    expect((await pub('POST', `/${a.id}/phone-code`)).json().code).toBe('APPLICATION_NOT_PENDING');
  });

  it('expires a code after 10 minutes', async () => {
    const a = await started();
    await pub('POST', `/${a.id}/phone-code`);
    const code = await lastCode(a.id);
    ctx.clock.advance(10 * 60_000);
    const res = await pub('POST', `/${a.id}/confirm`, { code });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'PHONE_CODE_EXPIRED', message: '验证码已失效，请重新获取验证码' });
    expect((await pub('GET', `/${a.id}`)).json().status).toBe('draft');
  });

  it('without any code sent, confirming fails; an unknown or malformed id is 404', async () => {
    const a = await started();
    expect((await pub('POST', `/${a.id}/confirm`, { code: '123456' })).json().code).toBe('PHONE_CODE_EXPIRED');
    expect((await pub('POST', `/${a.id}/confirm`, { code: '12345' })).statusCode).toBe(422);
    expect((await pub('GET', '/AAAAAAAAAAAAAAAAAAAAAA')).statusCode).toBe(404);
    expect((await pub('GET', '/1')).statusCode).toBe(404);
    expect((await pub('POST', '/AAAAAAAAAAAAAAAAAAAAAA/phone-code')).statusCode).toBe(404);
  });

  it('stores ID number and bank card encrypted (as cases do) and the code only hashed', async () => {
    const a = await started();
    await pub('POST', `/${a.id}/phone-code`);
    const code = await lastCode(a.id);
    const raw = JSON.stringify(await ctx.database.db('online_applications').where({ id: a.id }).first());
    expect(raw).not.toContain(applicant.idNumber);
    expect(raw).not.toContain(applicant.bankCard);
    expect(raw).not.toContain(`"${code}"`);
    const outboxRaw = JSON.stringify(await ctx.database.db('outbox').where({ application_id: a.id }));
    expect(outboxRaw).not.toContain(code);
    expect(outboxRaw).not.toContain(applicant.phone);
  });
});

describe('bad input', () => {
  it('is a structured refusal: unknown or window-less procedure, no township, wrong materials, wrong applicant', async () => {
    const marriage = await start({ ...valid, procedureId: 'marriage' });
    expect(marriage.statusCode).toBe(422);
    expect(marriage.json().code).toBe('UNKNOWN_PROCEDURE');
    const res = await start({ ...valid, regionCode: '330106999', applicant: { ...applicant, idNumber: '1' }, materials: [{ code: 'photos', count: 1 }] });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('INVALID_APPLICATION');
    expect(res.json().details.map((d: any) => d.path)).toEqual(expect.arrayContaining(['applicant.idNumber', 'regionCode', 'materials.0.code']));
    expect((await start({ ...valid, regionCode: '330106' })).statusCode).toBe(422);
  });

  it('lists the townships and the procedures open to online application', async () => {
    const res = await pub('GET', '/regions');
    expect(res.statusCode).toBe(200);
    expect(res.json().regions.map((r: any) => r.code)).toEqual(['330106001', '330106002']);
    const ids = res.json().procedures.map((p: any) => p.id);
    expect(ids).toContain('social-assistance');
    expect(ids).not.toContain('marriage');
  });
});

describe('who may prescreen', () => {
  it('answers 403 to staff who are not clerks whatever the body, and 401 without a session', async () => {
    const a = await confirmed();
    for (const user of ['township.beishan', 'supervisor.xihu', 'admin.xihu']) {
      const c = await ctx.as(user);
      expect((await c.get('/api/applications')).statusCode).toBe(403);
      for (const body of [{ materialsReceived: 'x' }, { junk: true }, {}]) {
        const res = await c.post(`/api/applications/${a.id}/accept`, body);
        expect(res.statusCode, user).toBe(403);
        expect(res.json().code).toBe('ROLE_REQUIRED');
        expect((await c.post(`/api/applications/${a.id}/return`, body)).statusCode).toBe(403);
      }
    }
    expect((await ctx.app.inject({ method: 'GET', url: '/api/applications' })).statusCode).toBe(401);
    // A clerk of another window (marriage registry, county level) sees an empty queue.
    expect((await queue('registry.xihu')).items).toEqual([]);
    expect((await (await ctx.as('registry.xihu')).post(`/api/applications/${a.id}/accept`, { materialsReceived: [] })).statusCode).toBe(404);
  });

  it('pages the queue oldest first with a cursor', async () => {
    const before = (await queue('clerk.beishan')).total;
    await confirmed();
    ctx.clock.advance(1000);
    await confirmed();
    const clerk = await ctx.as('clerk.beishan');
    const first = (await clerk.get('/api/applications?pageSize=1')).json();
    expect(first.total).toBe(before + 2);
    expect(first.items).toHaveLength(1);
    const seen = [first.items[0].id];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = (await clerk.get(`/api/applications?pageSize=1&cursor=${cursor}`)).json();
      seen.push(...page.items.map((i: any) => i.id));
      cursor = page.nextCursor;
    }
    expect(new Set(seen).size).toBe(before + 2);
    expect((await clerk.get('/api/applications?cursor=bad')).statusCode).toBe(422);
  });
});

describe('abuse', () => {
  it('throttles the public endpoints per address and limits the SMS one address can cause', async () => {
    const app = await buildApp({ db: ctx.database.db, engine: ctx.engine, sessionHours: 1, limits: { applyPerAddressPerMinute: 3, applyCodesPerAddressPerHour: 2 } });
    try {
      ctx.clock.advance(120_000);
      const from = '198.51.100.7';
      for (let i = 0; i < 3; i++) expect((await pub('GET', '/regions', undefined, from, app)).statusCode).toBe(200);
      const limited = await start(valid, from, app);
      expect(limited.statusCode).toBe(429);
      expect(limited.json().code).toBe('RATE_LIMITED');
      expect(limited.headers['retry-after']).toBeDefined();
      // Another address is not affected.
      expect((await pub('GET', '/regions', undefined, '198.51.100.8', app)).statusCode).toBe(200);

      // SMS budget: two codes an hour from one address, whatever the application.
      const sms = '198.51.100.9';
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await start(valid, sms, app)).json().id);
      ctx.clock.advance(61_000);
      expect((await pub('POST', `/${ids[0]}/phone-code`, undefined, sms, app)).statusCode).toBe(202);
      expect((await pub('POST', `/${ids[1]}/phone-code`, undefined, sms, app)).statusCode).toBe(202);
      ctx.clock.advance(61_000);
      const third = await pub('POST', `/${ids[2]}/phone-code`, undefined, sms, app);
      expect(third.statusCode).toBe(429);
      expect(third.json().message).toContain('当前网络发送验证码过于频繁');
    } finally {
      await app.close();
    }
  });

  it('refuses a body over 16 KiB before parsing it', async () => {
    const res = await start({ ...valid, application: { ...application, reason: '很'.repeat(6000) } });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('BODY_TOO_LARGE');
  });
});
