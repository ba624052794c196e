import { api, call, type Schemas } from '../../api/client';
import { session } from '../../session';

/*
 * What the administration screens choose from: the regions this admin manages (own and below)
 * and the departments. Fetched once per logged-in user; the server checks every choice again.
 */
export type AdminRegions = Schemas['AdminRegions'];
export type Department = Schemas['Departments']['items'][number];

let regions: Promise<AdminRegions> | undefined;
let regionsOf: string | null | undefined;
let departments: Promise<Department[]> | undefined;

export const adminRegions = () => {
  // Another admin logging in in this tab manages other regions.
  if (regionsOf !== session.user?.id) regions = undefined;
  regionsOf = session.user?.id;
  regions ??= call(api.GET('/api/admin/regions')).catch((err) => {
    regions = undefined;
    throw err;
  });
  return regions;
};

export const departmentList = () => {
  departments ??= call(api.GET('/api/admin/departments'))
    .then((d) => d.items)
    .catch((err) => {
      departments = undefined;
      throw err;
    });
  return departments;
};

/** "北山街道（演示）" with its code, indented by depth for a select. */
export const regionLabel = (r: AdminRegions['items'][number]) => `${'　'.repeat(r.depth)}${r.name}（${r.code}）`;
