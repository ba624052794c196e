import knexFactory from 'knex';
import type { TestProject } from 'vitest/node';
import { migrationSource } from '../../migrations/index.ts';

export const TEMPLATE_DB = 'onewindow_test_template';

/**
 * With DATABASE_URL (real PostgreSQL), migrate a template database once; each test file then
 * clones it (CREATE DATABASE … TEMPLATE), as graphile-worker's tests do. Without it, each file
 * runs on its own in-memory PGlite.
 */
export default async function setup(project: TestProject) {
  const url = process.env.DATABASE_URL;
  project.provide('databaseUrl', url ?? '');
  if (!url) return;
  const admin = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await admin.raw(`create database ${TEMPLATE_DB}`);
  const template = knexFactory({ client: 'pg', connection: withDatabase(url, TEMPLATE_DB), pool: { min: 0, max: 1 } });
  await template.migrate.latest({ migrationSource });
  await template.destroy();
  await admin.destroy();
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}
