import { Lunar, Solar } from 'lunar-typescript';

/**
 * A provisional national schedule for a year whose notice (国务院办公厅关于…节假日安排的通知) is not
 * out yet, built only from what the law fixes: the holidays of 全国年节及纪念日放假办法 (2024
 * revision, art. 2) and art. 6 — a holiday of all citizens that falls on a Saturday or Sunday is
 * made up (补假) on the working day(s) right after its holiday run. The rest of a notice cannot be
 * predicted (bridge days, weekend days worked), so none is guessed. Pure: no I/O.
 */
export interface ProvisionalDay {
  date: string;
  name: string;
}

/** The 2024 revision is in force from 2025; lunar-typescript's tables are reliable well past 2100. */
export const PROVISIONAL_YEARS = { from: 2025, to: 2099 } as const;

const ymd = (s: Solar) => s.toYmd();
const DAY_MS = 86_400_000;
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const isWeekend = (day: string) => {
  const w = new Date(`${day}T00:00:00Z`).getUTCDay();
  return w === 0 || w === 6;
};

/** The statutory holidays of a year (art. 2), one entry per holiday day; two may share a date. */
export function statutoryHolidays(year: number): ProvisionalDay[] {
  const springFestival = Lunar.fromYmd(year, 1, 1).getSolar();
  const eve = springFestival.next(-1); // 农历除夕: the last day of the previous lunar year (29th or 30th)
  const days: ProvisionalDay[] = [{ date: `${year}-01-01`, name: '元旦' }];
  for (let i = 0; i < 4; i++) days.push({ date: ymd(eve.next(i)), name: '春节' });
  days.push({ date: ymd(Lunar.fromYmd(year, 3, 1).getJieQiTable()['清明']), name: '清明节' });
  days.push({ date: `${year}-05-01`, name: '劳动节' }, { date: `${year}-05-02`, name: '劳动节' });
  days.push({ date: ymd(Lunar.fromYmd(year, 5, 5).getSolar()), name: '端午节' });
  days.push({ date: ymd(Lunar.fromYmd(year, 8, 15).getSolar()), name: '中秋节' });
  for (const d of ['10-01', '10-02', '10-03']) days.push({ date: `${year}-${d}`, name: '国庆节' });
  // 除夕 is never before 20 January, so 春节 always lies within its solar year.
  return days.filter((d) => d.date.startsWith(`${year}-`)).sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/**
 * The provisional days off of a year: the statutory holidays plus their 补假 days. A holiday day
 * lost to a weekend, or to another holiday on the same date (中秋 on 3 October, as in 2028), is
 * made up on the next working day after the run of consecutive days off it belongs to.
 * Every day returned is a holiday; weekends are days off anyway and are not listed.
 */
export function provisionalHolidays(year: number): ProvisionalDay[] {
  const statutory = statutoryHolidays(year);
  const off = new Map<string, string>();
  for (const d of statutory) if (!off.has(d.date)) off.set(d.date, d.name);
  const isOff = (day: string) => off.has(day) || isWeekend(day);
  const result: ProvisionalDay[] = [...off].map(([date, name]) => ({ date, name }));
  const seen = new Set<string>();
  for (const first of [...off.keys()].sort()) {
    if (seen.has(first)) continue;
    // The run: every consecutive day off around this holiday (weekends included).
    let start = first;
    while (isOff(addDays(start, -1))) start = addDays(start, -1);
    let end = first;
    while (isOff(addDays(end, 1))) end = addDays(end, 1);
    const lost: string[] = [];
    for (let day = start; day <= end; day = addDays(day, 1)) {
      seen.add(day);
      const entries = statutory.filter((d) => d.date === day);
      if (entries.length === 0) continue;
      // On a weekend every entry is lost; on a weekday all but the first.
      lost.push(...entries.slice(isWeekend(day) ? 0 : 1).map((d) => d.name));
    }
    let day = end;
    for (const name of lost) {
      do day = addDays(day, 1);
      while (isOff(day));
      off.set(day, `${name}补假`);
      seen.add(day);
      result.push({ date: day, name: `${name}补假` });
    }
  }
  return result.filter((d) => d.date.startsWith(`${year}-`)).sort((a, b) => (a.date < b.date ? -1 : 1));
}
