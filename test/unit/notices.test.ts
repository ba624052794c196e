import { describe, expect, it } from 'vitest';
import { procedureDefinitions } from '../../workflows/index.ts';
import { loadNoticeConfig } from '../../src/config.ts';
import { transitionNotices } from '../../src/notifications/triggers.ts';
import { NOTICE_KINDS, renderNotice, shortProcedureName, smsSegments, type NoticePayloads } from '../../src/notifications/templates.ts';

const c = { procedure: '低保', reference: 'DB-330106001-261123-0001-7' };
const samples: { [K in keyof NoticePayloads]: NoticePayloads[K][] } = {
  accepted: [{ ...c, trackingCode: 'PY5WCZX7', dueAt: null }],
  supplement: [{ ...c, items: ['家庭收入和财产状况申报', '居民身份证、户口簿', '很长的材料名称'.repeat(10)], dueAt: '2026-03-31T16:30:00Z' }],
  decision: [
    { ...c, outcome: 'approved', amountFen: 60000, monthly: true, startMonth: '2026-04' },
    { ...c, outcome: 'approved', amountFen: 150000, monthly: false },
    { ...c, outcome: 'refused', reason: '理由'.repeat(100) },
    { ...c, outcome: 'notAccepted', reason: '不符合受理条件' },
    { ...c, outcome: 'closed', stage: '已撤回' },
  ],
  payment: [{ ...c, period: '2026-04', amountFen: 60000 }, { ...c, period: 'ONCE', amountFen: 150000 }],
  rating_invitation: [c],
  phone_code: [{ code: '042137', minutes: 10 }],
  application_returned: [{ procedure: '低保', items: ['家庭收入和财产状况申报'], note: '请全体家庭成员签字' }, { procedure: '低保', items: [] }],
};
/** Notices of an online application: no case yet, so neither reference nor tracking link. */
const APPLICATION_KINDS = new Set(['phone_code', 'application_returned']);

describe('SMS texts', () => {
  it('carry the signature, the reference and (but for payment) the tracking link, in at most three segments', () => {
    for (const kind of NOTICE_KINDS) {
      if (APPLICATION_KINDS.has(kind)) continue;
      for (const p of samples[kind]) {
        const text = renderNotice(kind, p as never, 'https://ywt.example.gov.cn/');
        expect(text.startsWith('【一窗通办】'), text).toBe(true);
        expect(text).toContain(c.reference);
        if (kind !== 'payment') expect(text).toContain(`https://ywt.example.gov.cn/track?ref=${c.reference}`);
        expect(smsSegments(text), text).toBeLessThanOrEqual(3);
      }
    }
  });

  it('of an online application: the phone code with its validity in one segment, a return with what is missing', () => {
    const code = renderNotice('phone_code', samples.phone_code[0], 'http://x');
    expect(code).toBe('【一窗通办】您的网上申请验证码为042137，10分钟内有效。如非本人操作，请忽略本短信。');
    expect(smsSegments(code)).toBe(1);
    const returned = renderNotice('application_returned', samples.application_returned[0], 'http://x');
    expect(returned).toBe('【一窗通办】您的低保网上申请未通过预审，需补齐：家庭收入和财产状况申报。说明：请全体家庭成员签字。请补齐后重新申请，或到窗口办理。');
    expect(smsSegments(returned)).toBeLessThanOrEqual(2);
    expect(renderNotice('application_returned', samples.application_returned[1], 'http://x')).not.toContain('需补齐');
  });

  it('write dates in China time and amounts in 元', () => {
    // 16:30 UTC on 31 March is 1 April in China.
    expect(renderNotice('supplement', samples.supplement[0], 'http://x')).toContain('请于2026年4月1日前补交');
    expect(renderNotice('decision', samples.decision[1], 'http://x')).toContain('已批准，金额1500.00元');
    expect(renderNotice('payment', samples.payment[1], 'http://x')).toContain('救助金1500.00元已核准发放');
  });

  it('count segments as handsets do and shorten procedure names', () => {
    expect(smsSegments('字'.repeat(70))).toBe(1);
    expect(smsSegments('字'.repeat(71))).toBe(2);
    expect(smsSegments('字'.repeat(135))).toBe(3);
    expect(shortProcedureName('最低生活保障（低保）申请')).toBe('低保');
    expect(shortProcedureName('身后一件事（逝者相关事项联办）')).toBe('身后一件事');
    expect(shortProcedureName('临时救助申请')).toBe('临时救助');
  });
});

describe('notice configuration', () => {
  it('defaults to the dev sink and refuses a lease no longer than the send timeout or a non-http URL', () => {
    expect(loadNoticeConfig({}, 3000)).toMatchObject({ gateway: undefined, publicBaseUrl: 'http://127.0.0.1:3000', maxAttempts: 8, leaseMs: 60_000 });
    expect(loadNoticeConfig({ SMS_GATEWAY_URL: 'https://sms.example/send', SMS_GATEWAY_TOKEN: 't', PUBLIC_BASE_URL: 'https://ywt.example.gov.cn/' }, 3000)).toMatchObject({
      gateway: { url: 'https://sms.example/send', token: 't', timeoutMs: 10_000 },
      publicBaseUrl: 'https://ywt.example.gov.cn',
    });
    expect(() => loadNoticeConfig({ SMS_GATEWAY_TIMEOUT_MS: '30000', NOTICE_LEASE_MS: '30000' }, 3000)).toThrow(/NOTICE_LEASE_MS/);
    expect(() => loadNoticeConfig({ SMS_GATEWAY_URL: 'ftp://sms.example' }, 3000)).toThrow(/SMS_GATEWAY_URL/);
    expect(() => loadNoticeConfig({ NOTICE_MAX_ATTEMPTS: '0' }, 3000)).toThrow(/NOTICE_MAX_ATTEMPTS/);
  });
});

describe('which transitions write notices', () => {
  const funeral = procedureDefinitions.find((d) => d.id === 'funeral')!;
  const base = { reference: 'SH-330106-260302-0001-3', data: {}, contextBefore: { decision: null }, contextAfter: { decision: null }, becameDone: false, stage: '办理中', liveTasks: [], liveBefore: new Set<string>() };
  const task = (id: string, stateId: string, due: string) => ({ id, state_id: stateId, due_at: new Date(due) }) as never;

  it('a branch 补正 of the funeral one-stop, with its items and the due date of the task it opened', () => {
    const [n] = transitionNotices(funeral, {
      ...base,
      eventType: 'HOUSING_FUND_SUPPLEMENT_REQUESTED',
      data: { items: ['继承权公证书'] },
      liveTasks: [task('t1', 'fu.pension.pending', '2026-03-10T00:00:00Z'), task('t2', 'fu.housingFund.supplement', '2026-04-01T00:00:00Z')],
      liveBefore: new Set(['t1']),
    });
    expect(n).toEqual({ kind: 'supplement', payload: { procedure: '身后一件事', reference: base.reference, items: ['继承权公证书'], dueAt: '2026-04-01T00:00:00.000Z' } });
  });

  it('one decision notice when a decision and an ending coincide; an ending alone says its stage; nothing for other steps', () => {
    const refused = transitionNotices(funeral, { ...base, eventType: 'REFUSE', contextAfter: { decision: { approved: false, reason: '不符合条件' } }, becameDone: true });
    expect(refused.map((n) => n.payload)).toEqual([expect.objectContaining({ outcome: 'refused', reason: '不符合条件' })]);
    const ended = transitionNotices(funeral, { ...base, eventType: 'CIVIL_AFFAIRS_DONE', becameDone: true, stage: '全部事项已办结' });
    expect(ended.map((n) => n.payload)).toEqual([expect.objectContaining({ outcome: 'closed', stage: '全部事项已办结' })]);
    expect(transitionNotices(funeral, { ...base, eventType: 'ACCEPT' })).toEqual([]);
    // A decision already made does not notify again on later steps.
    const decided = { decision: { approved: true, monthlyAmountFen: 1 } };
    expect(transitionNotices(funeral, { ...base, eventType: 'PAY_MONTH', contextBefore: decided, contextAfter: decided })).toEqual([]);
  });
});
