import type { Db } from './connection.ts';
import type { DayKind } from '../engine/calendar.ts';

export const NATIONAL = 'CN';

export interface CalendarRows {
  nationalYears: number[];
  /** Overrides for the region and its ancestors, national first, deeper regions later. */
  days: Array<{ region_code: string; day: string; kind: DayKind; name: string }>;
}

/** The national calendar plus every override of `regionCode`'s ancestors (codes nest by prefix). */
export async function loadCalendarRows(db: Db, regionCode: string): Promise<CalendarRows> {
  const years = await db('calendar_years').where({ region_code: NATIONAL }).select('year');
  const days = await db('calendar_days')
    .where('region_code', NATIONAL)
    .orWhereRaw('? like region_code || \'%\'', [regionCode])
    .select('region_code', db.raw(`to_char(day, 'YYYY-MM-DD') as day`), 'kind', 'name')
    .orderByRaw(`case when region_code = 'CN' then 0 else length(region_code) end, day`);
  return { nationalYears: years.map((y) => Number(y.year)), days };
}

export interface CalendarYearInput {
  regionCode: string;
  year: number;
  source: string;
  holidays: Array<{ date: string; name: string }>;
  workdays: Array<{ date: string; name: string }>;
}

/** Replaces one region's schedule for one year. */
export async function replaceCalendarYear(db: Db, input: CalendarYearInput, now: Date): Promise<void> {
  const from = `${input.year}-01-01`;
  const to = `${input.year}-12-31`;
  await db('calendar_days').where({ region_code: input.regionCode }).andWhereBetween('day', [from, to]).delete();
  await db('calendar_years').where({ region_code: input.regionCode, year: input.year }).delete();
  await db('calendar_years').insert({ region_code: input.regionCode, year: input.year, source: input.source, loaded_at: now });
  const rows = [
    ...input.holidays.map((d) => ({ region_code: input.regionCode, day: d.date, kind: 'holiday', name: d.name })),
    ...input.workdays.map((d) => ({ region_code: input.regionCode, day: d.date, kind: 'workday', name: d.name })),
  ];
  if (rows.length) await db('calendar_days').insert(rows);
}

export async function getCalendarYear(db: Db, regionCode: string, year: number) {
  const meta = await db('calendar_years').where({ region_code: regionCode, year }).first();
  if (!meta) return undefined;
  const days = await db('calendar_days')
    .where({ region_code: regionCode })
    .andWhereBetween('day', [`${year}-01-01`, `${year}-12-31`])
    .select(db.raw(`to_char(day, 'YYYY-MM-DD') as day`), 'kind', 'name')
    .orderBy('day');
  return { regionCode, year, source: meta.source as string, loadedAt: new Date(meta.loaded_at).toISOString(), days };
}

/** Loaded years: national ones and those of `regionCode` and the regions below it. */
export async function listCalendarYears(db: Db, regionCode: string) {
  const rows = await db('calendar_years')
    .where('region_code', NATIONAL)
    .orWhere('region_code', 'like', `${regionCode}%`)
    .orderBy([{ column: 'year', order: 'desc' }, { column: 'region_code' }]);
  return rows.map((r) => ({ regionCode: r.region_code as string, year: Number(r.year), source: r.source as string, loadedAt: new Date(r.loaded_at).toISOString() }));
}
