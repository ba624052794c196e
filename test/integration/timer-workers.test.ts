import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { Actor } from '../../src/engine/engine.ts';
import { seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TimerWorker } from '../../src/worker/timerWorker.ts';
import { applicant, application } from '../support/app.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

// Several worker processes on one PostgreSQL. PGlite is one process's database, so these run
// only when DATABASE_URL points at a server (as .ci/run does).
const onPostgres = Boolean(inject('databaseUrl'));
const NOW = new Date('2026-06-01T02:00:00Z');

let database: TestDatabase;
const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);
const engine = createEngine({ clock: () => NOW, cipher });

beforeAll(async () => {
  if (!onPostgres) return;
  database = await createTestDatabase();
  await seedDemo(database.db);
});
afterAll(() => database?.destroy());

/** Opens `cases` cases and gives each acceptance task `perCase` due warning timers. */
async function dueTimers(cases: number, perCase: number): Promise<string[]> {
  const db = database.db;
  const u = await db('users').where({ username: 'clerk.beishan' }).first();
  const clerk: Actor = { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
  const rows = [];
  for (let i = 0; i < cases; i++) {
    const { id } = await db.transaction((t) => engine.openCase(t, clerk, { procedureId: 'social-assistance', applicant, application }));
    const task = await db('tasks').where({ case_id: id }).first();
    for (let k = 0; k < perCase; k++) {
      rows.push({ case_id: id, task_id: task.id, state_id: task.state_id, kind: 'warn', event_type: 'DEADLINE_WARNING', due_at: new Date(NOW.getTime() - (k + 1) * 60_000), created_at: NOW });
    }
  }
  // Only these timers are due: the cases' own escalation timers lie in the future.
  await db('timers').where('due_at', '>', NOW).update({ status: 'cancelled' });
  const ids: string[] = [];
  for (let i = 0; i < rows.length; i += 500) ids.push(...(await db('timers').insert(rows.slice(i, i + 500)).returning('id')).map((r: any) => String(r.id)));
  return ids;
}

function runWorkerProcess(env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      env: { ...process.env, DATABASE_URL: database.url!, ONEWINDOW_NOW: NOW.toISOString(), ONEWINDOW_DATA_KEYS: TEST_DATA_KEYS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 || env.WORKER_FAULT ? resolve({ code, stdout }) : reject(new Error(`worker exited ${code}: ${stderr}`))));
  });
}

async function firingsPerTimer(ids: string[]) {
  const rows = await database.db('case_events')
    .where({ type: 'DEADLINE_WARNING' })
    .whereRaw(`payload->>'timerId' = any(?)`, [ids])
    .select(database.db.raw(`payload->>'timerId' as timer_id`), database.db.raw('count(*)::int as n'))
    .groupByRaw(`payload->>'timerId'`);
  return new Map(rows.map((r: any) => [String(r.timer_id), Number(r.n)]));
}

describe.skipIf(!onPostgres)('timer workers in separate processes', () => {
  it('fires each of 3,000 due timers exactly once with three workers racing', async () => {
    const ids = await dueTimers(300, 10);
    const results = await Promise.all(
      ['w1', 'w2', 'w3'].map((w) => runWorkerProcess({ WORKER_ID: w, WORKER_EXIT_WHEN_IDLE: '1', WORKER_BATCH: '50' })),
    );
    const fired = results.map((r) => JSON.parse(r.stdout.trim().split('\n').at(-1)!).fired as number);
    expect(fired.reduce((a, b) => a + b, 0)).toBe(3000);
    expect(fired.every((n) => n > 0)).toBe(true); // all three took part
    const firings = await firingsPerTimer(ids);
    expect(firings.size).toBe(3000);
    expect([...firings.values()].every((n) => n === 1)).toBe(true);
    const statuses = await database.db('timers').whereIn('id', ids).select('status').groupBy('status').count({ n: '*' });
    expect(statuses).toEqual([{ status: 'fired', n: expect.anything() }]);
    // Per case, the version grew by exactly its ten firings.
    const versions = await database.db('cases').select('version');
    expect(new Set(versions.map((v: any) => v.version))).toEqual(new Set([11]));
  }, 120_000);

  it('lets another worker fire the timers a killed worker had leased, once its lease expires', async () => {
    const ids = await dueTimers(10, 10);
    const doomed = await runWorkerProcess({ WORKER_ID: 'doomed', WORKER_FAULT: 'exit-after-claim', WORKER_BATCH: '40', WORKER_LEASE_MS: '60000' });
    expect(doomed.code).toBe(137);
    const leased = await database.db('timers').whereIn('id', ids).andWhere({ locked_by: 'doomed', status: 'pending' });
    expect(leased).toHaveLength(40);

    let clock = new Date(NOW.getTime() + 30_000); // lease still running
    const rescuer = new TimerWorker({ db: database.db, engine: createEngine({ clock: () => clock, cipher }), workerId: 'rescuer', batchSize: 500 });
    expect(await rescuer.runOnce()).toMatchObject({ claimed: 60, fired: 60 });
    expect(await database.db('timers').whereIn('id', leased.map((t: any) => t.id)).andWhere({ status: 'pending' })).toHaveLength(40);

    clock = new Date(NOW.getTime() + 61_000); // lease expired
    expect(await rescuer.runOnce()).toMatchObject({ claimed: 40, fired: 40 });
    const firings = await firingsPerTimer(ids);
    expect(firings.size).toBe(100);
    expect([...firings.values()].every((n) => n === 1)).toBe(true);
  }, 120_000);
});
