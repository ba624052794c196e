import type { Db } from '../db/connection.ts';
import { loadCalendarRows } from '../db/calendars.ts';
import { WorkCalendar, type DayKind } from './calendar.ts';

/** How long a process may keep a calendar; a recompute job waits this long after a load. */
export const CALENDAR_CACHE_MS = 30_000;

/**
 * Working calendars per region, cached briefly: deadline arithmetic runs on every transition that
 * opens a task, while calendars change once a year. A load through the admin API clears this
 * process's cache at once; other processes pick it up within `ttlMs`. A year whose national
 * notice is not loaded is worked on its provisional schedule (provisionalCalendar.ts), marked.
 */
export class CalendarService {
  private cache = new Map<string, { at: number; calendar: WorkCalendar }>();

  constructor(private readonly ttlMs = CALENDAR_CACHE_MS) {}

  async forRegion(db: Db, regionCode: string): Promise<WorkCalendar> {
    const hit = this.cache.get(regionCode);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.calendar;
    const calendar = await this.fresh(db, regionCode);
    this.cache.set(regionCode, { at: Date.now(), calendar });
    return calendar;
  }

  /** The calendar as stored now, bypassing the cache (the recompute must not use a stale one). */
  async fresh(db: Db, regionCode: string): Promise<WorkCalendar> {
    const rows = await loadCalendarRows(db, regionCode);
    const days = new Map<string, DayKind>();
    for (const d of rows.days) days.set(d.day, d.kind);
    return new WorkCalendar(new Set(rows.nationalYears), days, { provisional: true });
  }

  invalidate(): void {
    this.cache.clear();
  }
}
