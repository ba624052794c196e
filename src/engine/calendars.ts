import type { Db } from '../db/connection.ts';
import { loadCalendarRows } from '../db/calendars.ts';
import { WorkCalendar, type DayKind } from './calendar.ts';

/**
 * Working calendars per region, cached briefly: deadline arithmetic runs on every transition that
 * opens a task, while calendars change once a year. A load through the admin API clears this
 * process's cache at once; other processes pick it up within `ttlMs`.
 */
export class CalendarService {
  private cache = new Map<string, { at: number; calendar: WorkCalendar }>();

  constructor(private readonly ttlMs = 30_000) {}

  async forRegion(db: Db, regionCode: string): Promise<WorkCalendar> {
    const hit = this.cache.get(regionCode);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.calendar;
    const rows = await loadCalendarRows(db, regionCode);
    const days = new Map<string, DayKind>();
    for (const d of rows.days) days.set(d.day, d.kind);
    const calendar = new WorkCalendar(new Set(rows.nationalYears), days);
    this.cache.set(regionCode, { at: Date.now(), calendar });
    return calendar;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
