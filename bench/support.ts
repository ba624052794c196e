import os from 'node:os';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { connect, migrateToLatest } from '../src/db/connection.ts';
import type { Actor } from '../src/engine/engine.ts';
import { seedDemo } from '../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';

export const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const BENCH_DB = process.env.BENCH_DB ?? 'onewindow_bench';
export const benchUrl = (() => {
  const u = new URL(baseUrl);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
})();

export interface Stats {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

export function summarise(samples: number[], seconds: number, errors = 0): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, seconds, perSecond: sorted.length / seconds, p50: at(0.5), p99: at(0.99), errors };
}

export const fmt = (s: Stats, unit = 'transitions/s') =>
  `${s.perSecond.toFixed(0).padStart(6)} ${unit}  p50 ${s.p50.toFixed(1).padStart(6)} ms  p99 ${s.p99.toFixed(1).padStart(6)} ms  (${s.count} in ${s.seconds.toFixed(1)} s, ${s.errors} errors)`;

export async function describeMachine(): Promise<string> {
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  const { rows } = await c.query('show server_version');
  await c.end();
  return `machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, PostgreSQL ${rows[0].server_version}`;
}

/** A fresh, migrated, seeded bench database. */
export async function freshBenchDatabase(): Promise<Knex> {
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${BENCH_DB} with (force)`);
  await admin.raw(`create database ${BENCH_DB}`);
  await admin.destroy();
  const db = connect({ kind: 'postgres', url: benchUrl, poolMax: 4 });
  await migrateToLatest(db);
  await seedDemo(db);
  return db;
}

export async function dropBenchDatabase(): Promise<void> {
  const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${BENCH_DB} with (force)`);
  await admin.destroy();
}

export async function demoActor(db: Knex, username: string): Promise<Actor> {
  const u = await db('users').where({ username }).first();
  return { id: u.id, name: u.display_name, regionCode: u.region_code, department: u.department, roles: u.roles };
}

/** Opens `n` social-assistance cases through the engine, applying `then` in the same transaction. */
export async function openCases(db: Knex, n: number, then?: (t: Knex.Transaction, id: string) => Promise<void>): Promise<string[]> {
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const clerk = await demoActor(db, 'clerk.beishan');
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await db.transaction(async (t) => {
        const { id } = await engine.openCase(t, clerk, {
          procedureId: 'social-assistance',
          applicant: { name: '测试', idNumber: '11010519491231002X', phone: '13800138000' },
          application: { householdSize: 2, monthlyHouseholdIncomeFen: 100000, reason: '基准测试' },
        });
        await then?.(t, id);
        return id;
      }),
    );
  }
  return ids;
}
