import { describe, expect, it } from 'vitest';
import { DevSinkChannel } from '../../src/notifications/channels.ts';
import { NoticeDispatcher } from '../../src/notifications/dispatcher.ts';
import { applicant, application, useTestApp } from '../support/app.ts';

// 网上申请 end to end below the browser: the phone code travels through the notice dispatcher to
// the dev sink (as an SMS would), the citizen types what the SMS says, the window accepts, and the
// 受理 notice with reference and tracking code reaches the same phone; a return sends the 一次性告知.
const ctx = useTestApp();

function dispatch() {
  const { db } = ctx.database;
  const channel = new DevSinkChannel({ db, cipher: ctx.engine.cipher, clock: ctx.clock.now });
  return new NoticeDispatcher({ db, cipher: ctx.engine.cipher, clock: ctx.clock.now, channel, publicBaseUrl: 'http://127.0.0.1:3000', workerId: 'online' }).runOnce();
}

/** The dev sink's messages as the region's admin reads them (群众通知 › 开发沙箱短信), newest first. */
async function sinkTexts(): Promise<Array<{ text: string; recipient: string; caseId: string | null }>> {
  const res = await (await ctx.as('admin.xihu')).get('/api/admin/notices/sink-messages?pageSize=100');
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items;
}

const post = (url: string, payload?: object) => ctx.app.inject({ method: 'POST', url: `/api/public/applications${url}`, ...(payload ? { payload } : {}) });

async function applyAndConfirm(name: string) {
  const res = await post('', { procedureId: 'social-assistance', regionCode: '330106001', applicant: { ...applicant, name }, application, materials: [{ code: 'application-form', count: 1 }, { code: 'id-hukou', count: 1 }] });
  expect(res.statusCode, res.body).toBe(201);
  const id = res.json().id as string;
  expect((await post(`/${id}/phone-code`)).statusCode).toBe(202);
  expect((await dispatch()).sent).toBe(1);
  const sms = (await sinkTexts())[0];
  expect(sms.recipient).toBe('138****8000');
  expect(sms.caseId).toBeNull();
  const code = /验证码为(\d{6})，10分钟内有效/.exec(sms.text)?.[1];
  expect(code, sms.text).toBeDefined();
  const ok = await post(`/${id}/confirm`, { code: code! });
  expect(ok.statusCode, ok.body).toBe(200);
  return id;
}

describe('online applications with the notice dispatcher', () => {
  it('sends the code by SMS, and once accepted the citizen gets the reference and tracking code on the same phone', async () => {
    const id = await applyAndConfirm('李网申');
    const notices = (await (await ctx.as('admin.xihu')).get('/api/admin/notices?kind=phone_code')).json();
    expect(notices.items[0]).toMatchObject({ kind: 'phone_code', kindLabel: '网上申请验证码', status: 'sent', caseId: null });

    const accepted = await (await ctx.as('clerk.beishan')).post(`/api/applications/${id}/accept`, { materialsReceived: ['application-form', 'id-hukou'] });
    expect(accepted.statusCode, accepted.body).toBe(201);
    const { reference, trackingCode, caseId } = accepted.json();
    expect((await dispatch()).sent).toBe(1);
    const sms = (await sinkTexts())[0];
    expect(sms).toMatchObject({ caseId, recipient: '138****8000' });
    expect(sms.text).toContain(`受理编号${reference}，查询码${trackingCode}`);
    // And the citizen can track it with what the SMS said.
    const tracked = await ctx.app.inject({ method: 'GET', url: `/api/track/${reference}?code=${trackingCode}` });
    expect(tracked.statusCode, tracked.body).toBe(200);
  });

  it('a return reaches the applicant as a 一次性告知 SMS and opens no case', async () => {
    const before = Number((await ctx.database.db('cases').count({ n: '*' }))[0].n);
    const id = await applyAndConfirm('王退回');
    const res = await (await ctx.as('clerk.beishan')).post(`/api/applications/${id}/return`, { missingMaterials: ['income-declaration', 'verification-authorization'], note: '请全体家庭成员签字' });
    expect(res.statusCode, res.body).toBe(200);
    expect((await dispatch()).sent).toBe(1);
    expect((await sinkTexts())[0].text).toBe('【一窗通办】您的低保网上申请未通过预审，需补齐：家庭收入和财产状况申报、家庭经济状况核对授权书。说明：请全体家庭成员签字。请补齐后重新申请，或到窗口办理。');
    expect(Number((await ctx.database.db('cases').count({ n: '*' }))[0].n)).toBe(before);
  });

  it('a draft whose phone was never confirmed stays out of every queue and never becomes a case', async () => {
    const res = await post('', { procedureId: 'social-assistance', regionCode: '330106001', applicant: { ...applicant, name: '赵未验' }, application });
    const id = res.json().id as string;
    await post(`/${id}/phone-code`);
    await dispatch();
    for (const user of ['clerk.beishan', 'clerk.xixi']) {
      expect((await (await ctx.as(user)).get('/api/applications')).json().items.some((i: any) => i.id === id)).toBe(false);
    }
    expect(await ctx.database.db('cases').where({ applicant_name: '赵未验' }).first()).toBeUndefined();
  });
});
