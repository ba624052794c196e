import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { WorkCalendar, chinaDay, type DayKind } from '../../src/engine/calendar.ts';
import { provisionalHolidays, statutoryHolidays } from '../../src/engine/provisionalCalendar.ts';
import { nextYearStatus } from '../../src/engine/calendarStatus.ts';

// A year whose notice is not out: the statutory holidays of 全国年节及纪念日放假办法 (2024) and the
// 补假 of its art. 6, nothing else guessed (docs/deadlines.md, "Provisional calendar").
const days = (year: number) => provisionalHolidays(year).map((d) => `${d.date} ${d.name}`);
const china = (s: string) => new Date(`${s}+08:00`);

describe('provisional national schedule', () => {
  it('2027: the statutory holidays from the lunar calendar and the solar term, and 补假 after each weekend-hit run', () => {
    expect(statutoryHolidays(2027).map((d) => d.date)).toEqual([
      '2027-01-01', '2027-02-05', '2027-02-06', '2027-02-07', '2027-02-08', '2027-04-05', '2027-05-01', '2027-05-02', '2027-06-09', '2027-09-15', '2027-10-01', '2027-10-02', '2027-10-03',
    ]);
    expect(days(2027)).toEqual([
      '2027-01-01 元旦', // Friday: nothing to make up
      '2027-02-05 春节', // 除夕 Fri … 初三 Mon
      '2027-02-06 春节',
      '2027-02-07 春节',
      '2027-02-08 春节',
      '2027-02-09 春节补假', // Sat 6 and Sun 7 made up on Tue 9 and Wed 10
      '2027-02-10 春节补假',
      '2027-04-05 清明节',
      '2027-05-01 劳动节', // Saturday and Sunday: Mon 3 and Tue 4
      '2027-05-02 劳动节',
      '2027-05-03 劳动节补假',
      '2027-05-04 劳动节补假',
      '2027-06-09 端午节',
      '2027-09-15 中秋节',
      '2027-10-01 国庆节', // Fri; Sat 2 and Sun 3 made up on Mon 4 and Tue 5
      '2027-10-02 国庆节',
      '2027-10-03 国庆节',
      '2027-10-04 国庆节补假',
      '2027-10-05 国庆节补假',
    ]);
  });

  it('2028 (sanity): 元旦 on a Saturday, 端午 on a Sunday, 中秋 on 3 October', () => {
    const d = days(2028);
    expect(d).toContain('2028-01-03 元旦补假');
    expect(d.filter((x) => x.includes('春节') && !x.includes('补假')).map((x) => x.slice(0, 10))).toEqual(['2028-01-25', '2028-01-26', '2028-01-27', '2028-01-28']);
    expect(d).toContain('2028-04-04 清明节');
    expect(d).toContain('2028-05-29 端午节补假');
    // Sun 1 Oct and the day 中秋 shares with 国庆 are both made up after the run: Wed 4 and Thu 5.
    expect(d.filter((x) => x.startsWith('2028-10-')).map((x) => x.slice(0, 10))).toEqual(['2028-10-01', '2028-10-02', '2028-10-03', '2028-10-04', '2028-10-05']);
    expect(provisionalHolidays(2028).every((x) => x.date.startsWith('2028-'))).toBe(true);
  });

  it('computes through an unloaded year on it, marked provisional, while a loaded year stays exact', () => {
    const seed = JSON.parse(fs.readFileSync('migrations/data/calendar-CN-2026.json', 'utf8'));
    const loaded = new Map<string, DayKind>([...seed.holidays.map((d: any) => [d.date, 'holiday'] as const), ...seed.workdays.map((d: any) => [d.date, 'workday'] as const)]);
    const cal = new WorkCalendar(new Set([2026]), loaded, { provisional: true });
    // 10 WD from Sun 2026-12-20: Dec 21–25, 28–31, then Mon 4 Jan (元旦 Fri 1 Jan off).
    const ten = cal.trace(() => chinaDay(cal.addWorkingDays(china('2026-12-20T10:00:00'), 10)));
    expect(ten).toEqual({ value: '2027-01-04', provisional: true });
    // Asked again (a calendar keeps its answers per start day): the same day, still marked.
    expect(cal.trace(() => chinaDay(cal.addWorkingDays(china('2026-12-20T18:00:00'), 10)))).toEqual({ value: '2027-01-04', provisional: true });
    expect(cal.trace(() => chinaDay(cal.addCalendarDays(china('2026-12-20T10:00:00'), 12)))).toEqual({ value: '2027-01-04', provisional: true });
    expect(cal.trace(() => chinaDay(cal.addCalendarDays(china('2026-12-20T11:00:00'), 12)))).toEqual({ value: '2027-01-04', provisional: true });
    // 1 WD from Thu 4 Feb 2027: 5–10 Feb are off (春节 and its 补假).
    expect(chinaDay(cal.addWorkingDays(china('2027-02-04T10:00:00'), 1))).toBe('2027-02-11');
    expect(cal.trace(() => chinaDay(cal.addWorkingDays(china('2026-12-01T10:00:00'), 5)))).toEqual({ value: '2026-12-08', provisional: false });
    // A region's own adjustment still applies on the provisional year.
    const regional = new WorkCalendar(new Set([2026]), new Map([...loaded, ['2027-01-04', 'holiday' as DayKind]]), { provisional: true });
    expect(chinaDay(regional.addWorkingDays(china('2026-12-20T10:00:00'), 10))).toBe('2027-01-05');
  });

  it('tells admins from 1 November (China time) that next year is missing', () => {
    expect(nextYearStatus(new Date('2026-10-31T15:59:59Z'), [2026]).nextYear).toMatchObject({ year: 2027, loaded: false, warning: false });
    const nov = nextYearStatus(new Date('2026-10-31T16:00:00Z'), [2026]); // 00:00 on 1 Nov in China
    expect(nov.nextYear).toMatchObject({ year: 2027, loaded: false, warning: true, message: expect.stringContaining('2027年全国节假日安排尚未加载') });
    expect(nov.nextYear.provisionalHolidays).toHaveLength(19);
    expect(nextYearStatus(new Date('2026-12-20T02:00:00Z'), [2026, 2027]).nextYear).toMatchObject({ loaded: true, warning: false, message: null, provisionalHolidays: [] });
  });
});
