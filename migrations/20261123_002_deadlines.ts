import fs from 'node:fs';
import type { Knex } from 'knex';

// Deadlines: working-day calendars as data, due dates and escalation on tasks, the case clock,
// and durable timers that a worker fires through the normal engine path.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('calendar_years', (t) => {
    // 'CN' is the national calendar; a region code marks that region's overrides.
    t.string('region_code', 12).notNullable();
    t.integer('year').notNullable();
    t.string('source').notNullable();
    t.timestamp('loaded_at', { useTz: true }).notNullable();
    t.primary(['region_code', 'year']);
  });
  await knex.schema.createTable('calendar_days', (t) => {
    t.string('region_code', 12).notNullable();
    t.date('day').notNullable();
    // holiday: a weekday off; workday: a weekend day worked (调休). Other days follow the weekday.
    t.string('kind', 8).notNullable();
    t.string('name').notNullable();
    t.primary(['region_code', 'day']);
  });
  await knex.raw(`alter table calendar_days add constraint calendar_days_kind check (kind in ('holiday', 'workday'))`);

  await knex.schema.alterTable('tasks', (t) => {
    t.timestamp('due_at', { useTz: true });
    t.timestamp('warn_at', { useTz: true });
    t.timestamp('red_at', { useTz: true });
    // none | warned | overdue | red
    t.string('escalation', 8).notNullable().defaultTo('none');
    t.timestamp('escalated_at', { useTz: true });
    // Why a task has no due date (e.g. the calendar year is not loaded).
    t.string('deadline_note');
  });
  await knex.raw(`create index tasks_escalated on tasks (region_code, due_at) where status in ('open', 'claimed') and escalation <> 'none'`);

  await knex.schema.alterTable('cases', (t) => {
    t.timestamp('due_at', { useTz: true });
    t.timestamp('clock_paused_at', { useTz: true });
    t.string('deadline_note');
  });

  await knex.schema.createTable('timers', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('case_id').notNullable().references('cases.id');
    t.uuid('task_id').references('tasks.id');
    t.string('state_id').notNullable();
    // warn | overdue | red (a task's escalation) | state (a chart's own timed transition)
    t.string('kind', 8).notNullable();
    t.string('event_type', 64).notNullable();
    t.timestamp('due_at', { useTz: true }).notNullable();
    // pending | fired | cancelled | failed
    t.string('status', 10).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('locked_by', 64);
    t.timestamp('locked_until', { useTz: true });
    t.text('last_error');
    t.timestamp('fired_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
  });
  await knex.raw(`create index timers_due on timers (due_at) where status = 'pending'`);
  await knex.raw(`create index timers_pending_by_case on timers (case_id) where status = 'pending'`);

  // Ship the 2026 national calendar as seed data; later years are loaded through the admin API.
  const cal = JSON.parse(fs.readFileSync(new URL('./data/calendar-CN-2026.json', import.meta.url), 'utf8'));
  await knex('calendar_years').insert({ region_code: cal.regionCode, year: cal.year, source: cal.source, loaded_at: new Date('2025-11-04T00:00:00Z') });
  await knex('calendar_days').insert([
    ...cal.holidays.map((d: { date: string; name: string }) => ({ region_code: cal.regionCode, day: d.date, kind: 'holiday', name: d.name })),
    ...cal.workdays.map((d: { date: string; name: string }) => ({ region_code: cal.regionCode, day: d.date, kind: 'workday', name: d.name })),
  ]);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
