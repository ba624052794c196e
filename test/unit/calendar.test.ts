import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { CalendarYearMissingError, WorkCalendar, chinaDay, type DayKind } from '../../src/engine/calendar.ts';

// The 2026 national schedule exactly as it ships in the migration's seed data.
const seed = JSON.parse(fs.readFileSync('migrations/data/calendar-CN-2026.json', 'utf8'));
const days = new Map<string, DayKind>([
  ...seed.holidays.map((d: any) => [d.date, 'holiday'] as const),
  ...seed.workdays.map((d: any) => [d.date, 'workday'] as const),
]);
const cal = new WorkCalendar(new Set([2026]), days);
const china = (s: string) => new Date(`${s}+08:00`);

describe('working-day calendar (2026)', () => {
  it('counts make-up Saturdays and skips the Spring Festival: 10 WD from 2026-02-10 ends on 2026-03-02', () => {
    const due = cal.addWorkingDays(china('2026-02-10T09:30:00'), 10);
    expect(chinaDay(due)).toBe('2026-03-02');
    expect(due.toISOString()).toBe('2026-03-02T15:59:59.999Z'); // end of the day, China time
    expect(cal.isWorkingDay('2026-02-14')).toBe(true);
    expect(cal.isWorkingDay('2026-02-28')).toBe(true);
    expect(cal.isWorkingDay('2026-02-16')).toBe(false);
    expect(cal.isWorkingDay('2026-03-01')).toBe(false);
  });

  it('moves a calendar-day period that ends inside the National Day holiday to the next working day', () => {
    // 30 days from 2026-09-03 would end on 2026-10-03, a holiday; 10-08 is the first working day after.
    expect(chinaDay(cal.addCalendarDays(china('2026-09-03T10:00:00'), 30))).toBe('2026-10-08');
    // Ending on an ordinary working day stays put.
    expect(chinaDay(cal.addCalendarDays(china('2026-03-02T10:00:00'), 7))).toBe('2026-03-09');
  });

  it('extends a due date by a 3-working-day pause', () => {
    const due = cal.addWorkingDays(china('2026-03-02T09:00:00'), 10); // 2026-03-16
    expect(chinaDay(due)).toBe('2026-03-16');
    const extended = cal.extend(due, china('2026-03-04T10:00:00'), china('2026-03-09T10:00:00')); // Thu, Fri, Mon
    expect(cal.workingDaysBetween(china('2026-03-04T10:00:00'), china('2026-03-09T10:00:00'))).toBe(3);
    expect(chinaDay(extended)).toBe('2026-03-19');
  });

  it('counts remaining working days, negative once overdue', () => {
    const due = china('2026-03-06T23:59:59');
    expect(cal.remainingWorkingDays(china('2026-03-02T10:00:00'), due)).toBe(4);
    expect(cal.remainingWorkingDays(china('2026-03-06T10:00:00'), due)).toBe(0);
    expect(cal.remainingWorkingDays(china('2026-03-10T10:00:00'), due)).toBe(-2);
  });

  it('refuses working-day arithmetic in a year without a loaded calendar unless asked for a provisional one', () => {
    expect(() => cal.addWorkingDays(china('2026-12-28T10:00:00'), 10)).toThrow(CalendarYearMissingError);
    try {
      cal.addWorkingDays(china('2026-12-28T10:00:00'), 10);
    } catch (e: any) {
      expect(e.code).toBe('CALENDAR_YEAR_MISSING');
      expect(e.message).toBe('2027年工作日历尚未加载，无法按工作日计算时限');
    }
  });

  it('lets a regional override win over the national schedule', () => {
    const regional = new WorkCalendar(new Set([2026]), new Map([...days, ['2026-03-05', 'holiday' as DayKind]]));
    expect(chinaDay(regional.addWorkingDays(china('2026-03-02T10:00:00'), 3))).toBe('2026-03-06');
  });
});
