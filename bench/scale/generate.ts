/**
 * The million-case bench database (issue 11, goal 2). Real cases are first made through the
 * engine — every procedure opened, social assistance also walked to its verification and
 * home-visit steps and to a rejection — and then cloned in SQL (generate_series, no per-row round
 * trips from JavaScript) with new ids and references: the snapshots, state values, tasks, pending
 * timers and event logs are the engine's own, so the API reads the clones like any case.
 *
 * Shape: 20 townships (one holding a fifth of the cases), 24 % of cases running (their live tasks
 * ~30 % of all tasks), 18 % of cases waiting in one county department (county-verification:
 * ~180k open there at a million), timestamps shifted per clone: running cases opened within the
 * last 90 days, their live tasks within 16 (some warned, overdue or red), done ones within two years.
 * BENCH_SCALE=small: 20,000 cases.
 */
import type { Knex } from 'knex';
import pg from 'pg';
import type { Actor } from '../../src/engine/engine.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { upsertRegion } from '../../src/db/regions.ts';
import { demoActor, benchUrl } from '../support.ts';

export const SCALE_CASES = Number(process.env.BENCH_CASES ?? (process.env.BENCH_SCALE === 'small' ? 20_000 : 1_000_000));
export const TOWNSHIPS = Array.from({ length: 20 }, (_, i) => `330106${String(i + 1).padStart(3, '0')}`);
/** The department that gets the skew: 60 % of live tasks. */
export const HEAVY_DEPARTMENT = 'county-verification';

const applicant = { name: '测试', idNumber: '11010519491231002X', phone: '13800138000' };

interface Template {
  caseId: string;
  running: boolean;
  weight: number;
  label: string;
}

/** Real cases through the engine: the templates the SQL clones. */
async function makeTemplates(db: Knex): Promise<{ templates: Template[]; tracking: { reference: string; trackingCode: string } }> {
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const clerkOf = async (dept: string): Promise<Actor | undefined> => {
    const u = await db('users').where({ department: dept }).whereRaw(`roles::text like '%clerk%'`).first();
    return u ? demoActor(db, u.username) : undefined;
  };
  const templates: Template[] = [];
  let tracking: { reference: string; trackingCode: string } | undefined;
  const open = async (procedureId: string, application: unknown) => {
    const def = engine.registry.latest(procedureId);
    for (const dept of def.acceptingDepartments) {
      const clerk = await clerkOf(dept);
      if (!clerk) continue;
      return db.transaction((t) => engine.openCase(t, clerk, { procedureId, applicant, application }));
    }
    throw new Error(`no clerk for ${procedureId}`);
  };
  const complete = async (caseId: string, username: string, outcome: string, data: object = {}) => {
    const actor = await demoActor(db, username);
    const live = await db('tasks').where({ case_id: caseId }).whereIn('status', ['open', 'claimed']);
    const task = live.find((t) => (typeof t.actions === 'string' ? JSON.parse(t.actions) : t.actions).includes(outcome));
    if (!task) throw new Error(`no live task for ${outcome}`);
    await db.transaction((t) => engine.completeTask(t, actor, task.id, { outcome, data }));
  };

  // Every procedure, at its first step (acceptance at the window, or its accepting department).
  for (const def of engine.registry.list()) {
    try {
      const opened = await open(def.id, def.variants[0].application);
      templates.push({ caseId: opened.id, running: true, weight: 3, label: `${def.id}: acceptance` });
      tracking ??= opened;
    } catch (e) {
      console.log(`  (template ${def.id} skipped: ${(e as Error).message})`);
    }
  }
  // Social assistance further along: the county verification (the heavy queue), the home visit.
  const sa = engine.registry.latest('social-assistance').variants[0].application;
  const verifying = await open('social-assistance', sa);
  await complete(verifying.id, 'clerk.beishan', 'ACCEPT');
  templates.push({ caseId: verifying.id, running: true, weight: 75, label: 'social-assistance: county verification' });
  const visiting = await open('social-assistance', sa);
  await complete(visiting.id, 'clerk.beishan', 'ACCEPT');
  await complete(visiting.id, 'verify.xihu', 'VERIFICATION_COMPLETED', { verifiedMonthlyIncomeFen: 1, propertyWithinLimit: true });
  templates.push({ caseId: visiting.id, running: true, weight: 6, label: 'social-assistance: home visit' });
  // Decided cases: rejected at the window.
  const rejected = await open('social-assistance', sa);
  await complete(rejected.id, 'clerk.beishan', 'REJECT_APPLICATION', { reason: '不符合条件' });
  templates.push({ caseId: rejected.id, running: false, weight: 1, label: 'social-assistance: rejected (done)' });
  // The rest of the running cases spread over every procedure's acceptance.
  const light = templates.filter((t) => t.running && t.weight === 3);
  const lightShare = 19 / light.length;
  for (const t of light) t.weight = lightShare;
  return { templates, tracking: tracking! };
}

async function columns(c: pg.Client, table: string): Promise<Array<{ name: string; type: string }>> {
  const { rows } = await c.query(
    `select column_name as name, data_type as type from information_schema.columns where table_schema = 'public' and table_name = $1 order by ordinal_position`,
    [table],
  );
  return rows;
}

/** "insert into <table> (cols) select <exprs> from <from>": every column copied from `src`, timestamps shifted, `overrides` replacing. */
async function cloneSql(c: pg.Client, table: string, src: string, shift: string, from: string, overrides: Record<string, string>, skip: string[] = []): Promise<string> {
  const cols = (await columns(c, table)).filter((col) => !skip.includes(col.name));
  const exprs = cols.map((col) => overrides[col.name] ?? (col.type.startsWith('timestamp') ? `${src}.${col.name} + ${shift}` : `${src}.${col.name}`));
  return `insert into ${table} (${cols.map((col) => col.name).join(', ')}) select ${exprs.join(', ')} from ${from}`;
}

export interface Generated {
  seconds: number;
  cases: number;
  tasks: number;
  liveTasks: number;
  heavyLive: number;
  pendingTimers: number;
  events: number;
  tracking: { reference: string; trackingCode: string };
  caseId: string;
}

/** Prints how long each step of the load took. */
function stepTimer(): (name: string) => void {
  let t = performance.now();
  return (name) => {
    const now = performance.now();
    console.log(`  ${name}: ${((now - t) / 1000).toFixed(1)} s`);
    t = now;
  };
}

/** Fills the (fresh, migrated, seeded) bench database with SCALE_CASES cases. */
export async function generateScaleData(db: Knex, n = SCALE_CASES): Promise<Generated> {
  const t0 = performance.now();
  for (const [i, code] of TOWNSHIPS.entries()) {
    if (!(await db('regions').where({ code }).first())) await upsertRegion(db, { code, name: `第${i + 1}街道（基准）`, parent_code: '330106', settings: {} });
  }
  const { templates, tracking } = await makeTemplates(db);
  const c = new pg.Client({ connectionString: benchUrl });
  await c.connect();
  try {
    await c.query('begin');
    // Bulk load: the clones are consistent by construction (every id from the template maps), so
    // the foreign-key triggers are skipped for this transaction (session_replication_role =
    // replica; the bench connects as the superuser), and the secondary indexes of the four big
    // tables are dropped and built again after the load (sorted builds, parallel workers) instead
    // of being updated row by row. Primary keys and unique constraints stay.
    const step = stepTimer();
    await c.query(`set local session_replication_role = replica`);
    await c.query(`set local maintenance_work_mem = '1GB'`);
    await c.query(`set local max_parallel_maintenance_workers = 2`);
    const { rows: secondary } = await c.query(
      `select i.indexname as name, i.indexdef as def from pg_indexes i
       where i.schemaname = 'public' and i.tablename = any($1) and not exists (select 1 from pg_constraint k where k.conname = i.indexname)`,
      [['cases', 'tasks', 'timers', 'case_events']],
    );
    for (const i of secondary) await c.query(`drop index ${i.name}`);
    // Template slots: running cases pick one of 1,000 slots by weight, done cases the done template.
    await c.query('create temporary table tpl (slot int, case_id uuid, running boolean) on commit drop');
    // Weights are shares of running cases: 24 % of cases run, three quarters of them waiting in
    // the heavy department (18 % of all cases: ~180k live tasks there at a million).
    const running = templates.filter((t) => t.running);
    const total = running.reduce((s, t) => s + t.weight, 0);
    const runningShare = 0.24;
    const slots: Array<[number, string, boolean]> = [];
    let slot = 0;
    for (const [i, t] of running.entries()) {
      const end = i === running.length - 1 ? 1000 : Math.round(slot + (t.weight / total) * 1000);
      for (; slot < end; slot++) slots.push([slot, t.caseId, true]);
    }
    for (const t of templates.filter((x) => !x.running)) slots.push([-1, t.caseId, false]);
    await c.query(`insert into tpl select * from unnest($1::int[], $2::uuid[], $3::boolean[])`, [slots.map((s) => s[0]), slots.map((s) => s[1]), slots.map((s) => s[2])]);
    // Regions: the first township a fifth of the cases, the other 19 the rest evenly.
    await c.query('create temporary table reg (slot int, code text) on commit drop');
    await c.query(`insert into reg select s, case when s < 20 then $1 else ($2::text[])[1 + (s % 19)] end from generate_series(0, 99) s`, [TOWNSHIPS[0], TOWNSHIPS.slice(1)]);

    // One row per new case: its template, region, and how far its timestamps move.
    await c.query(`create temporary table g on commit drop as
      select gs as i, gen_random_uuid() as id, random() < $2 as running, floor(random() * 1000)::int as slot from generate_series(1, $1::int) gs`, [n, runningShare]);
    await c.query(`create temporary table m on commit drop as
      select g.i, g.id, tpl.case_id as tpl_id, reg.code as region_code,
        (now() - (case when g.running then random() * interval '90 days' else interval '91 days' + random() * interval '640 days' end)) - t.created_at as shift
      from g
      join tpl on tpl.running = g.running and (not g.running or tpl.slot = g.slot)
      join reg on reg.slot = (g.i * 31) % 100
      join cases t on t.id = tpl.case_id`);
    await c.query(
      await cloneSql(c, 'cases', 't', 'm.shift', 'm join cases t on t.id = m.tpl_id', {
        id: 'm.id',
        reference: `left(t.reference, 26) || '-B' || m.i`,
        region_code: 'm.region_code',
      }),
    );
    step('cases');
    await c.query(`create temporary table tm on commit drop as
      select m.id as case_id, m.region_code, t.id as old_id, gen_random_uuid() as new_id,
        -- A live task opened within the last 16 days (its case may be older): mostly in time, some warned, overdue or red.
        case when t.status in ('open', 'claimed') then (now() - random() * interval '16 days') - t.opened_at else m.shift end as shift
      from m join tasks t on t.case_id = m.tpl_id`);
    // Escalation as the timer worker would have left it at now (computed in the insert: no second pass).
    await c.query(
      await cloneSql(c, 'tasks', 't', 'tm.shift', 'tm join tasks t on t.id = tm.old_id', {
        id: 'tm.new_id',
        case_id: 'tm.case_id',
        region_code: 'tm.region_code',
        escalation: `case when t.status not in ('open', 'claimed') then t.escalation when t.red_at + tm.shift <= now() then 'red' when t.due_at + tm.shift <= now() then 'overdue'
          when t.warn_at + tm.shift <= now() then 'warned' else 'none' end`,
      }),
    );
    step('tasks');
    // Timers already due at now fired (in the insert, as for escalation).
    const timerDue = 't.due_at + coalesce(tm.shift, m.shift)';
    await c.query(
      await cloneSql(c, 'timers', 't', 'coalesce(tm.shift, m.shift)', 'm join timers t on t.case_id = m.tpl_id left join tm on tm.old_id = t.task_id and tm.case_id = m.id', {
        case_id: 'm.id',
        task_id: 'tm.new_id',
        status: `case when t.status = 'pending' and ${timerDue} <= now() then 'fired' else t.status end`,
        fired_at: `case when t.status = 'pending' and ${timerDue} <= now() then ${timerDue} else t.fired_at + coalesce(tm.shift, m.shift) end`,
      }, ['id']),
    );
    step('timers');
    await c.query(await cloneSql(c, 'case_events', 't', 'm.shift', 'm join case_events t on t.case_id = m.tpl_id', { case_id: 'm.id' }, ['id']));
    step('case_events');
    for (const i of secondary) await c.query(i.def);
    step(`${secondary.length} indexes built`);
    // What the queries bench needs when it reuses this database (BENCH_REUSE): a real case's tracking code.
    await c.query('create table if not exists bench_meta (key text primary key, value jsonb not null)');
    await c.query(`insert into bench_meta values ('tracking', $1), ('caseId', $2) on conflict (key) do update set value = excluded.value`, [
      JSON.stringify(tracking),
      JSON.stringify(templates.find((t) => t.label.includes('home visit'))!.caseId),
    ]);
    await c.query('commit');
    await c.query('vacuum analyze');
    step('vacuum analyze');
    await c.query('checkpoint');
    step('checkpoint');
    const { rows } = await c.query(`select (select count(*) from cases)::int as cases, (select count(*) from tasks)::int as tasks,
      (select count(*) from tasks where status in ('open', 'claimed'))::int as live,
      (select count(*) from tasks where status in ('open', 'claimed') and department = $1)::int as heavy,
      (select count(*) from timers where status = 'pending')::int as pending, (select count(*) from case_events)::int as events`, [HEAVY_DEPARTMENT]);
    const r = rows[0];
    return {
      seconds: (performance.now() - t0) / 1000,
      cases: r.cases,
      tasks: r.tasks,
      liveTasks: r.live,
      heavyLive: r.heavy,
      pendingTimers: r.pending,
      events: r.events,
      tracking,
      caseId: templates.find((t) => t.label.includes('home visit'))!.caseId,
    };
  } finally {
    await c.end();
  }
}
