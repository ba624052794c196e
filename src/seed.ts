import { randomUUID } from 'node:crypto';
import type { Db } from './db/connection.ts';
import { upsertRegion } from './db/regions.ts';
import { upsertUser } from './db/users.ts';
import { hashPassword } from './identity.ts';

export const DEMO_PASSWORD = 'OneWindow@2026';

/** A demo county with two townships: 北山街道 confirms at county level, 西溪街道 is delegated. */
export const DEMO_REGIONS = [
  { code: '330106', name: '西湖区（演示）', parent_code: null, settings: {} },
  { code: '330106001', name: '北山街道（演示）', parent_code: '330106', settings: {} },
  { code: '330106002', name: '西溪街道（演示，审核确认委托街道）', parent_code: '330106', settings: { assistanceConfirmationDelegated: true } },
];

export const DEMO_USERS = [
  { username: 'clerk.beishan', display_name: '北山街道窗口 王敏', region_code: '330106001', department: 'township-window', roles: ['clerk'] },
  { username: 'clerk.xixi', display_name: '西溪街道窗口 李娜', region_code: '330106002', department: 'township-window', roles: ['clerk'] },
  { username: 'township.beishan', display_name: '北山街道社会救助 陈刚', region_code: '330106001', department: 'township-civil-affairs', roles: ['reviewer'] },
  { username: 'township2.beishan', display_name: '北山街道社会救助 刘洋', region_code: '330106001', department: 'township-civil-affairs', roles: ['reviewer'] },
  { username: 'township.xixi', display_name: '西溪街道社会救助 周丽', region_code: '330106002', department: 'township-civil-affairs', roles: ['reviewer'] },
  { username: 'verify.xihu', display_name: '区核对中心 吴强', region_code: '330106', department: 'county-verification', roles: ['reviewer'] },
  { username: 'county.xihu', display_name: '区民政局 郑洁', region_code: '330106', department: 'county-civil-affairs', roles: ['reviewer'] },
  { username: 'medical.xihu', display_name: '区医保局 孙涛', region_code: '330106', department: 'medical-insurance', roles: ['reviewer'] },
  { username: 'education.xihu', display_name: '区教育局 林静', region_code: '330106', department: 'education', roles: ['reviewer'] },
  { username: 'housing.xihu', display_name: '区住建局 许航', region_code: '330106', department: 'housing', roles: ['reviewer'] },
  { username: 'police.xihu', display_name: '区公安分局户政 钱伟', region_code: '330106', department: 'public-security', roles: ['reviewer'] },
  { username: 'funeralhome.xihu', display_name: '区殡仪馆 冯敏', region_code: '330106', department: 'funeral-home', roles: ['reviewer'] },
  { username: 'hrss.xihu', display_name: '区人社局 褚建', region_code: '330106', department: 'human-resources', roles: ['reviewer'] },
  { username: 'fund.xihu', display_name: '公积金中心西湖分中心 卫红', region_code: '330106', department: 'housing-fund', roles: ['reviewer'] },
  { username: 'registry.xihu', display_name: '区婚姻登记处 蒋琳', region_code: '330106', department: 'marriage-registry', roles: ['clerk'] },
  { username: 'socialorg.clerk', display_name: '区社会组织登记窗口 沈静', region_code: '330106', department: 'social-org-registry', roles: ['clerk'] },
  { username: 'socialorg.xihu', display_name: '区社会组织登记审查 韩磊', region_code: '330106', department: 'social-org-registry', roles: ['reviewer'] },
  { username: 'sponsor.xihu', display_name: '业务主管单位（区科协） 杨帆', region_code: '330106', department: 'sponsor-unit', roles: ['reviewer'] },
  { username: 'tax.xihu', display_name: '区税务局 朱琦', region_code: '330106', department: 'tax', roles: ['reviewer'] },
  { username: 'grid.beishan', display_name: '北山街道网格员 何平', region_code: '330106001', department: 'community-grid', roles: ['gridWorker'] },
  { username: 'grid.xixi', display_name: '西溪街道网格员 邵静', region_code: '330106002', department: 'community-grid', roles: ['gridWorker'] },
  { username: 'supervisor.xihu', display_name: '区民政局督办 赵芳', region_code: '330106', department: 'county-civil-affairs', roles: ['supervisor'] },
  { username: 'admin.xihu', display_name: '系统管理员', region_code: '330106', department: 'administration', roles: ['admin'] },
];

export async function seedDemo(db: Db): Promise<void> {
  for (const region of DEMO_REGIONS) await upsertRegion(db, region);
  // Each user gets their own salt: one shared hash would let a cracked hash open every account.
  // Hashed concurrently (scrypt runs on libuv's thread pool), written one by one.
  const hashes = await Promise.all(DEMO_USERS.map(() => hashPassword(DEMO_PASSWORD)));
  for (const [i, u] of DEMO_USERS.entries()) await upsertUser(db, { id: randomUUID(), password_hash: hashes[i], ...u });
}
