import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import type { TestProject } from 'vitest/node';
import { migrationSource } from '../../migrations/index.ts';


/**
 * With DATABASE_URL (real PostgreSQL), migrate a template database once; each test file then
 * clones it (CREATE DATABASE … TEMPLATE), as graphile-worker's tests do. Without it, each file
 * runs on its own in-memory PGlite. The template's name is unique per run, so several test runs
 * can share one server.
 */
export default async function setup(project: TestProject) {
  const url = process.env.DATABASE_URL;
  const templateDb = `ow_tpl_${randomBytes(5).toString('hex')}`;
  project.provide('databaseUrl', url ?? '');
  project.provide('templateDb', templateDb);
  if (!url) return;
  const admin = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${templateDb}`);
  const template = knexFactory({ client: 'pg', connection: withDatabase(url, templateDb), pool: { min: 0, max: 1 } });
  await template.migrate.latest({ migrationSource });
  await template.destroy();
  return async () => {
    await admin.raw(`drop database if exists ${templateDb} with (force)`);
    await admin.destroy();
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    templateDb: string;
  }
}
