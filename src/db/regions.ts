import type { Db } from './connection.ts';

export interface RegionRow {
  code: string;
  name: string;
  parent_code: string | null;
  settings: Record<string, unknown>;
}

export async function getRegion(db: Db, code: string): Promise<RegionRow | undefined> {
  return db<RegionRow>('regions').where({ code }).first();
}

/** A region and every region below it (codes nest by prefix), by code. */
export async function listRegionsUnder(db: Db, code: string): Promise<RegionRow[]> {
  return db<RegionRow>('regions').where('code', 'like', `${code}%`).orderBy('code');
}

/** Settings in force for a region: its ancestors' settings overridden by its own. */
export async function effectiveSettings(db: Db, code: string): Promise<Record<string, unknown>> {
  const chain: RegionRow[] = [];
  let current = await getRegion(db, code);
  while (current) {
    chain.unshift(current);
    current = current.parent_code ? await getRegion(db, current.parent_code) : undefined;
  }
  return Object.assign({}, ...chain.map((r) => r.settings));
}

export async function upsertRegion(db: Db, region: RegionRow): Promise<void> {
  await db('regions')
    .insert({ ...region, settings: JSON.stringify(region.settings) })
    .onConflict('code')
    .merge();
}
