import { chineseDate } from '../engine/views.ts';

/**
 * The SMS texts citizens receive (zh-CN), one function per notice kind. Every text starts with the
 * signature 【一窗通办】, names the case by its reference and ends with the tracking link; the
 * tracking code itself appears only in the acceptance notice. SMS segments: 70 characters for a
 * single message, 67 per segment of a longer one (the carrier joins them into one message).
 */
export const SIGNATURE = '【一窗通办】';

export const NOTICE_KINDS = ['accepted', 'supplement', 'decision', 'payment', 'rating_invitation', 'phone_code', 'application_returned'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export const NOTICE_KIND_LABELS: Record<NoticeKind, string> = {
  accepted: '受理登记',
  supplement: '补正告知',
  decision: '办理结果',
  payment: '发放通知',
  rating_invitation: '评价邀请',
  phone_code: '网上申请验证码',
  application_returned: '网上申请退回',
};

interface Common {
  /** The procedure's short name, e.g. 低保. */
  procedure: string;
  reference: string;
}

export interface NoticePayloads {
  /** At case opening. `trackingCode` is sealed in storage (PersonalDataCipher) and opened only to render. */
  accepted: Common & { trackingCode: string; dueAt: string | null };
  /** 一次性告知补正: what is missing, by when. */
  supplement: Common & { items: string[]; dueAt: string | null };
  /** A decision, a refusal to accept, or the case ending. */
  decision: Common & {
    outcome: 'approved' | 'refused' | 'notAccepted' | 'closed';
    amountFen?: number;
    monthly?: boolean;
    startMonth?: string;
    reason?: string;
    /** For `closed`: the final stage as the citizen reads it (已办结, 已撤回…). */
    stage?: string;
  };
  /** A payment was ordered. `period` is YYYY-MM, or ONCE for a one-off payment. */
  payment: Common & { period: string; amountFen: number };
  /** Hook for 好差评 (issue 9, rating): nothing writes it yet. */
  rating_invitation: Common;
  /** 网上申请: the one-time phone code, sealed in storage (PersonalDataCipher) and opened only to render. No case yet, no reference. */
  phone_code: { code: string; minutes: number };
  /** 网上申请 returned at 预审 with a 一次性告知: the missing materials by name and the clerk's note. */
  application_returned: { procedure: string; items: string[]; note?: string };
}

export type AnyNoticePayload = NoticePayloads[NoticeKind];

export const yuan = (fen: number) => `${(fen / 100).toFixed(2)}元`;

/** 2026-04 → 2026年4月. */
const month = (period: string) => {
  const m = /^(\d{4})-(\d{2})$/.exec(period);
  return m ? `${m[1]}年${Number(m[2])}月` : period;
};

/** Shorter procedure names for a text message: 最低生活保障（低保） → 低保, 身后一件事（…） → 身后一件事. */
export function shortProcedureName(name: string): string {
  const bare = name.replace(/申请$/, '');
  const paren = /^(.*?)（(.*?)）$/.exec(bare);
  if (paren) return [...paren[2]].length <= 4 ? paren[2] : paren[1];
  return bare;
}

export function trackingLink(baseUrl: string, reference: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/track?ref=${encodeURIComponent(reference)}`;
}

/** Keeps free text (a refusal reason) from swallowing the message. */
const clip = (text: string, max: number) => ([...text].length > max ? `${[...text].slice(0, max - 1).join('')}…` : text);

export function renderNotice<K extends NoticeKind>(kind: K, payload: NoticePayloads[K], baseUrl: string): string {
  if (kind === 'phone_code') {
    const c = payload as NoticePayloads['phone_code'];
    return `${SIGNATURE}您的网上申请验证码为${c.code}，${c.minutes}分钟内有效。如非本人操作，请忽略本短信。`;
  }
  if (kind === 'application_returned') {
    const r = payload as NoticePayloads['application_returned'];
    const missing = r.items.length ? `，需补齐：${clip(r.items.join('、'), 40)}` : '';
    const note = r.note ? `。说明：${clip(r.note, 30)}` : '';
    return `${SIGNATURE}您的${r.procedure}网上申请未通过预审${missing}${note}。请补齐后重新申请，或到窗口办理。`;
  }
  const p = payload as Common;
  const link = trackingLink(baseUrl, p.reference);
  const head = `${SIGNATURE}您的${p.procedure}申请（${p.reference}）`;
  switch (kind) {
    case 'accepted': {
      const a = payload as NoticePayloads['accepted'];
      return `${SIGNATURE}您的${a.procedure}申请已登记，受理编号${a.reference}，查询码${a.trackingCode}，请妥善保管。查进度：${link}`;
    }
    case 'supplement': {
      const s = payload as NoticePayloads['supplement'];
      const by = s.dueAt ? `，请于${chineseDate(new Date(s.dueAt))}前补交` : '，请尽快补交';
      return `${head}需补正：${clip(s.items.join('、'), 40)}${by}。详情：${link}`;
    }
    case 'decision': {
      const d = payload as NoticePayloads['decision'];
      switch (d.outcome) {
        case 'approved': {
          const amount = d.amountFen === undefined ? '' : d.monthly ? `，每月${yuan(d.amountFen)}` : `，金额${yuan(d.amountFen)}`;
          const from = d.startMonth ? `，自${month(d.startMonth)}起发放` : '';
          return `${head}已批准${amount}${from}。详情：${link}`;
        }
        case 'refused':
          return `${head}未获批准${d.reason ? `，理由：${clip(d.reason, 30)}` : ''}。如有异议可依法申请行政复议。详情：${link}`;
        case 'notAccepted':
          return `${head}不予受理${d.reason ? `，理由：${clip(d.reason, 30)}` : ''}。详情：${link}`;
        case 'closed':
          return `${head}${clip(d.stage ?? '已办结', 30)}。详情：${link}`;
      }
      throw new Error(`unknown decision outcome ${(d as { outcome: string }).outcome}`);
    }
    case 'payment': {
      const m = payload as NoticePayloads['payment'];
      const what = m.period === 'ONCE' ? '救助金' : `${month(m.period)}救助金`;
      return `${SIGNATURE}您的${m.procedure}（${m.reference}）${what}${yuan(m.amountFen)}已核准发放，请留意账户到账。`;
    }
    case 'rating_invitation':
      return `${head}已办结，欢迎评价办理服务：${link}`;
  }
  throw new Error(`unknown notice kind ${kind}`);
}

/** Characters as a handset counts them, and the segments they take (70 alone, 67 each when split). */
export function smsSegments(text: string): number {
  const n = [...text].length;
  return n <= 70 ? 1 : Math.ceil(n / 67);
}
