import { chinaDay } from './calendar.ts';
import { provisionalHolidays } from './provisionalCalendar.ts';

/** The notice for a year usually comes out in late October or November; from 1 November admins are told. */
export const NEXT_YEAR_WARNING_FROM = '11-01';

/** Whether next year's national schedule is missing, as of `now` (China time). Pure. */
export function nextYearStatus(now: Date, nationalYears: number[]) {
  const today = chinaDay(now);
  const year = Number(today.slice(0, 4)) + 1;
  const loaded = nationalYears.includes(year);
  const warning = !loaded && today.slice(5) >= NEXT_YEAR_WARNING_FROM;
  return {
    today,
    nextYear: {
      year,
      loaded,
      warning,
      message: warning
        ? `${year}年全国节假日安排尚未加载。在此之前，落在${year}年的办理时限按法定节假日（含补假）预计，显示为“预计”，以国务院公布的节假日安排为准；通知公布后请在“工作日历”中加载，系统将自动重算相关时限。`
        : null,
      provisionalHolidays: loaded ? [] : provisionalHolidays(year),
    },
  };
}
