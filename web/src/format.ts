/* What people read: dates in China time, money in 元, deadlines without raw codes. */

const CHINA = 'Asia/Shanghai';

const dateFormat = new Intl.DateTimeFormat('zh-CN', { timeZone: CHINA, year: 'numeric', month: 'long', day: 'numeric' });
const dateTimeFormat = new Intl.DateTimeFormat('zh-CN', {
  timeZone: CHINA,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

/** 2026年3月2日 */
export const chinaDate = (iso: string | Date) => dateFormat.format(new Date(iso));
/** 2026/03/02 09:30 */
export const chinaDateTime = (iso: string | Date) => dateTimeFormat.format(new Date(iso));

/** 1200.00元 from integer fen. */
export const yuan = (fen: number) => `${(fen / 100).toFixed(2)}元`;

const UNIT = { WD: '个工作日', CD: '日' } as const;
export const timeLimitText = (t: { days: number; unit: 'WD' | 'CD' }) => `${t.days}${UNIT[t.unit]}`;

/** Minutes a person reads from Retry-After seconds (at least 1). */
export const retryMinutes = (seconds: number) => Math.max(1, Math.ceil(seconds / 60));

/**
 * The expected completion date of a case, or why there is none. The service's note
 * (CALENDAR_YEAR_MISSING:2027) is a code; nobody at a window or at home should read it.
 */
export function expectedCompletion(deadline: { dueAt: string | null; note: string | null; clockPaused?: boolean; text?: string | null }): string {
  // The service words it (deadline.text); the fallback covers a service without that field.
  if (deadline.text) return deadline.text;
  if (deadline.dueAt) return chinaDate(deadline.dueAt) + (deadline.clockPaused ? '（当前计时暂停，恢复后顺延）' : '');
  const year = /^CALENDAR_YEAR_MISSING:(\d{4})$/.exec(deadline.note ?? '')?.[1];
  if (year) return `预计完成日期待定（${year}年节假日安排尚未公布）`;
  return '预计完成日期待定';
}

/** A date counted through a year whose holidays are not announced: marked as the server marks task deadlines. */
export const provisionalText = (text: string, provisional: boolean) => (provisional ? `预计 ${text}（以国务院公布的节假日安排为准）` : text);
