import type { User } from './api/client';

type Role = User['roles'][number];

/** A screen of the menu and the roles that may use it; the menu shows only the caller's. */
export interface MenuItem {
  path: string;
  label: string;
  roles: Role[];
  /** When set, only users of these departments (线索: grid workers and the township's social-assistance office). */
  departments?: string[];
}

export const MENU: MenuItem[] = [
  { path: '/window', label: '综合窗口', roles: ['clerk'] },
  // 预审 is the township window's: online applications are made to a township.
  { path: '/window/prescreen', label: '网上申请预审', roles: ['clerk'], departments: ['township-window'] },
  // 督办 first: a supervisor lands on the board; their 待办 holds the 差评整改 and 回访 tasks.
  { path: '/supervision', label: '督办', roles: ['supervisor'] },
  { path: '/inbox', label: '待办', roles: ['reviewer', 'clerk', 'supervisor'] },
  { path: '/admin', label: '管理', roles: ['admin'] },
  { path: '/leads', label: '线索', roles: ['gridWorker', 'reviewer'], departments: ['community-grid', 'township-civil-affairs'] },
];

export const menuFor = (user: User | null): MenuItem[] =>
  user ? MENU.filter((m) => m.roles.some((r) => user.roles.includes(r)) && (!m.departments || m.departments.includes(user.department))) : [];

export const mayOpen = (user: User | null, roles: Role[] | undefined) => !roles || (user !== null && roles.some((r) => user.roles.includes(r)));

/** Where a user lands after login: their first screen. */
export const homeOf = (user: User | null) => menuFor(user)[0]?.path ?? '/no-role';

export const ROLE_NAMES: Record<string, string> = { clerk: '窗口人员', reviewer: '审核人员', supervisor: '督办人员', admin: '管理员', gridWorker: '网格员' };
