/**
 * The legal wording the window's written documents (一次性告知书, 不予受理通知书) and decisions
 * print, in one place, so a notice, a refusal and the API that serves them cannot disagree.
 */

/** 行政许可法 art. 32 (4): one notice listing everything that is missing. */
export const SUPPLEMENT_LEGAL_BASIS =
  '《中华人民共和国行政许可法》第三十二条第一款第（四）项：申请材料不齐全或者不符合法定形式的，应当当场或者在五日内一次告知申请人需要补正的全部内容。';

/** 行政许可法 art. 32 (2nd paragraph): acceptance and non-acceptance are given in writing, sealed and dated. */
export const WRITTEN_NOTICE_LEGAL_BASIS =
  '《中华人民共和国行政许可法》第三十二条第二款：行政机关受理或者不予受理行政许可申请，应当出具加盖本行政机关专用印章和注明日期的书面凭证。';

/** The 补正 period does not count against the time limit (the supplement state stops the clock). */
export const SUPPLEMENT_CLOCK_STOPPED = '补正期间不计入办理时限，自收到全部补正材料之日起继续计算。';

/** What happens when the period passes: SUPPLEMENT_EXPIRED ends the case (shared/blocks.ts, supplementExpired). */
export const SUPPLEMENT_EXPIRY = '逾期未补正的，视为申请人撤回申请，本申请终止办理。';

/** What the applicant does next. */
export const SUPPLEMENT_INSTRUCTION = '请在补正期限内将上述材料一次性补齐，送交本窗口；材料齐全、符合法定形式的，本窗口将依法受理。';

/**
 * The applicant's remedies against a decision or a non-acceptance: 行政复议 within 60 days
 * (行政复议法 art. 20), 行政诉讼 within six months (行政诉讼法 art. 46).
 */
export const DEFAULT_REMEDY = '如不服本决定，可自收到之日起60日内申请行政复议，或6个月内提起行政诉讼。';
