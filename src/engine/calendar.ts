import type { TimeLimit } from '../../workflows/index.ts';
import { DomainError } from './errors.ts';
import { PROVISIONAL_YEARS, provisionalHolidays } from './provisionalCalendar.ts';

/**
 * Working-day arithmetic on the statutory calendar. Days are China-time dates ('YYYY-MM-DD');
 * a due date is the end of its day in China (23:59:59.999 +08:00).
 *
 * - Working day: Monday–Friday, unless the calendar marks it a holiday; a weekend day the
 *   calendar marks as a make-up working day (调休上班) is a working day.
 * - N working days from an instant: counting starts the next day; due at the end of the Nth.
 * - N calendar days (民法典 art. 201, 203): counting starts the next day; if the last day is not a
 *   working day the period ends at the end of the next working day.
 * - A year whose national schedule is not loaded is, with `provisional`, worked on the provisional
 *   schedule of provisionalCalendar.ts (statutory holidays and 补假, nothing guessed), and every
 *   result that consulted such a day is marked provisional (`trace`); without it, an error.
 */
export type DayKind = 'holiday' | 'workday';

const DAY_MS = 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;

/** The China-time date of an instant. */
export function chinaDay(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** The last millisecond of a China-time day. */
export function endOfChinaDay(day: string): Date {
  return new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS - CHINA_OFFSET_MS - 1);
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

export class CalendarYearMissingError extends DomainError {
  constructor(readonly year: number) {
    super('conflict', 'CALENDAR_YEAR_MISSING', `${year}年工作日历尚未加载，无法按工作日计算时限`, { year });
  }
}

export interface WorkCalendarOptions {
  /** Work unloaded years on their provisional schedule instead of refusing them. */
  provisional?: boolean;
}

export class WorkCalendar {
  private readonly provisionalDays = new Map<number, ReadonlyMap<string, DayKind>>();
  /** Kept day arithmetic (`remembered`), by question and China start day. */
  private readonly answers = new Map<string, { end: Date; provisional: boolean }>();
  private touchedProvisional = false;

  /**
   * @param years years whose national schedule is loaded
   * @param days overrides by date: national first, then each region down the tree (later wins)
   */
  constructor(
    private readonly years: ReadonlySet<number>,
    private readonly days: ReadonlyMap<string, DayKind>,
    private readonly options: WorkCalendarOptions = {},
  ) {}

  /** Whether `year` would be worked on a provisional schedule (its notice is not loaded). */
  isProvisionalYear(year: number): boolean {
    return !this.years.has(year) && this.options.provisional === true && year >= PROVISIONAL_YEARS.from && year <= PROVISIONAL_YEARS.to;
  }

  /**
   * Runs calendar arithmetic and says whether any day it consulted lies in a provisional year.
   * Arithmetic is synchronous, so the flag cannot mix two callers' work.
   */
  trace<T>(fn: () => T): { value: T; provisional: boolean } {
    const outer = this.touchedProvisional;
    this.touchedProvisional = false;
    try {
      const value = fn();
      return { value, provisional: this.touchedProvisional };
    } finally {
      this.touchedProvisional = outer || this.touchedProvisional;
    }
  }

  isWorkingDay(day: string): boolean {
    const year = Number(day.slice(0, 4));
    let override = this.days.get(day);
    if (!this.years.has(year)) {
      if (!this.isProvisionalYear(year)) throw new CalendarYearMissingError(year);
      this.touchedProvisional = true;
      // A region's own adjustments still apply on top of the provisional national schedule.
      override ??= this.provisionalYear(year).get(day);
    }
    if (override) return override === 'workday';
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
    return weekday !== 0 && weekday !== 6;
  }

  private provisionalYear(year: number): ReadonlyMap<string, DayKind> {
    let days = this.provisionalDays.get(year);
    if (!days) {
      days = new Map(provisionalHolidays(year).map((d) => [d.date, 'holiday' as const]));
      this.provisionalDays.set(year, days);
    }
    return days;
  }

  /** The end of the Nth working day after `from`'s day. */
  addWorkingDays(from: Date, n: number): Date {
    return this.remembered(`W${n}`, from, (start) => {
      let day = start;
      for (let counted = 0; counted < n; ) {
        day = addDays(day, 1);
        if (this.isWorkingDay(day)) counted++;
      }
      return day;
    });
  }

  /** N calendar days after `from`'s day, moved to the next working day if it ends on a day off. */
  addCalendarDays(from: Date, n: number): Date {
    return this.remembered(`C${n}`, from, (start) => {
      let day = addDays(start, n);
      while (!this.isWorkingDay(day)) day = addDays(day, 1);
      return day;
    });
  }

  /**
   * Day arithmetic from `from`'s China day, kept per start day: every transition that opens a task
   * asks the same few questions of the same day (due, red), and a calendar never changes once
   * built (CalendarService builds a new one when its days do). A cached answer that went through a
   * provisional year marks the caller's trace as the first computation did; a refusal (year not
   * loaded) is not kept, so it is thrown again.
   */
  private remembered(question: string, from: Date, count: (startDay: string) => string): Date {
    const start = chinaDay(from);
    const key = `${question}:${start}`;
    let hit = this.answers.get(key);
    if (!hit) {
      const { value, provisional } = this.trace(() => count(start));
      // A calendar lives while its cache entry does (30 s): the bound only guards a pathological caller.
      if (this.answers.size >= 10_000) this.answers.clear();
      this.answers.set(key, (hit = { end: endOfChinaDay(value), provisional }));
    }
    if (hit.provisional) this.touchedProvisional = true;
    return new Date(hit.end.getTime());
  }

  /** Working days after `from`'s day up to and including `to`'s day; negative if `to` is earlier. */
  workingDaysBetween(from: Date, to: Date): number {
    const a = chinaDay(from);
    const b = chinaDay(to);
    if (b < a) return -this.workingDaysBetween(to, from);
    let n = 0;
    for (let day = addDays(a, 1); day <= b; day = addDays(day, 1)) if (this.isWorkingDay(day)) n++;
    return n;
  }

  due(from: Date, limit: Pick<TimeLimit, 'days' | 'unit'>): Date {
    return limit.unit === 'WD' ? this.addWorkingDays(from, limit.days) : this.addCalendarDays(from, limit.days);
  }

  /** Moves a working-day due date later by the working days that did not count. */
  extend(due: Date, pausedFrom: Date, resumedAt: Date): Date {
    return this.addWorkingDays(due, this.workingDaysBetween(pausedFrom, resumedAt));
  }

  /**
   * A period from `opened` with `pauses` not counted. Working days add up pause by pause. A
   * calendar-day period counts its days past every paused day and only then moves off a day off
   * (民法典 art. 203): moving the already-moved due date by the pause would overshoot when it had
   * been moved off a weekend, and could end on a holiday.
   */
  periodEnd(opened: Date, limit: Pick<TimeLimit, 'days' | 'unit'>, pauses: readonly { from: Date; to: Date }[]): Date {
    if (limit.unit === 'WD') return pauses.reduce((due, p) => this.extend(due, p.from, p.to), this.due(opened, limit));
    const paused = pauses.reduce((n, p) => n + Math.round((Date.parse(chinaDay(p.to)) - Date.parse(chinaDay(p.from))) / DAY_MS), 0);
    return this.addCalendarDays(opened, limit.days + paused);
  }

  /** Working days left until `due` (0 on its last day, negative once overdue). */
  remainingWorkingDays(now: Date, due: Date): number {
    return this.workingDaysBetween(now, due);
  }
}
