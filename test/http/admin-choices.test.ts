import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.ts';

// Issue 8 §6: what the administration screens choose from — the regions an admin manages (own
// region and below), the departments — and the users list's filters, all within the region.
const ctx = useTestApp();

const login = async (username: string, password: string) => {
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  expect(res.statusCode, res.body).toBe(200);
  const headers = { authorization: `Bearer ${res.json().token}` };
  return { get: (url: string) => ctx.app.inject({ method: 'GET', url, headers }) };
};

async function townshipAdmin() {
  const admin = await ctx.as('admin.xihu');
  const created = await admin.post('/api/admin/users', {
    username: 'admin.beishan',
    displayName: '北山街道管理员 许静',
    regionCode: '330106001',
    department: 'administration',
    roles: ['admin'],
    password: 'Township#Admin2026',
  });
  expect(created.statusCode, created.body).toBe(201);
  return login('admin.beishan', 'Township#Admin2026');
}

describe('the regions an admin manages', () => {
  it('are their own region and those below it, with depth; a county admin at the top may load the national calendar', async () => {
    const res = await (await ctx.as('admin.xihu')).get('/api/admin/regions');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      items: [
        { code: '330106', name: '西湖区（演示）', parentCode: null, depth: 0 },
        { code: '330106001', name: '北山街道（演示）', parentCode: '330106', depth: 1 },
        { code: '330106002', name: expect.stringContaining('西溪街道'), parentCode: '330106', depth: 1 },
      ],
      nationalCalendar: true,
    });
  });

  it('are only the township for a township admin, who may not load the national calendar', async () => {
    const township = await townshipAdmin();
    const res = await township.get('/api/admin/regions');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ items: [{ code: '330106001', name: '北山街道（演示）', parentCode: '330106', depth: 0 }], nationalCalendar: false });
    // The users list follows the same rule: the county's users are not theirs, even when asked by region.
    const users = (await township.get('/api/admin/users?pageSize=200')).json();
    expect(users.items.length).toBeGreaterThan(0);
    expect(users.items.every((u: any) => u.regionCode === '330106001')).toBe(true);
    const county = (await township.get('/api/admin/users?region=330106')).json();
    expect(county).toMatchObject({ items: [], total: 0 });
  });

  it('are refused to anyone but an admin', async () => {
    for (const user of ['supervisor.xihu', 'clerk.beishan', 'county.xihu']) {
      for (const url of ['/api/admin/regions', '/api/admin/departments']) {
        const res = await (await ctx.as(user)).get(url);
        expect(res.statusCode, `${user} ${url}`).toBe(403);
        expect(res.json().code).toBe('ROLE_REQUIRED');
      }
    }
  });
});

describe('the departments', () => {
  it('name every department a user can be created in, the administration included', async () => {
    const res = await (await ctx.as('admin.xihu')).get('/api/admin/departments');
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json().items as Array<{ id: string; name: string; level: string }>;
    expect(items).toEqual(expect.arrayContaining([
      { id: 'township-window', name: '乡镇（街道）便民服务窗口', level: 'township' },
      { id: 'county-verification', name: '县级居民家庭经济状况核对机构', level: 'county' },
      { id: 'administration', name: '系统管理', level: 'county' },
    ]));
    // Each one is accepted by user creation.
    const admin = await ctx.as('admin.xihu');
    for (const [i, d] of items.entries()) {
      const created = await admin.post('/api/admin/users', {
        username: `dept.user${i}`,
        displayName: d.name,
        regionCode: '330106',
        department: d.id,
        roles: ['reviewer'],
        password: 'Department#2026',
      });
      expect(created.statusCode, `${d.id}: ${created.body}`).toBe(201);
    }
  });
});

describe('the users list', () => {
  it('filters by region, by disabled or not, and by part of the username or name', async () => {
    const admin = await ctx.as('admin.xihu');
    const list = async (query: string) => {
      const res = await admin.get(`/api/admin/users?pageSize=200&${query}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { items: Array<{ username: string; regionCode: string; disabled: boolean }>; total: number };
    };
    const xixi = await list('region=330106002');
    expect(xixi.items.map((u) => u.username).sort()).toEqual(['clerk.xixi', 'grid.xixi', 'township.xixi']);
    expect(xixi.total).toBe(3);

    const target = (await list('q=CLERK.XIXI')).items;
    expect(target.map((u) => u.username)).toEqual(['clerk.xixi']);
    expect((await list('q=西溪街道窗口')).items.map((u) => u.username)).toEqual(['clerk.xixi']);
    // LIKE's wildcards are text here.
    expect((await list('q=%25')).items).toEqual([]);
    expect((await list('q=_')).items).toEqual([]);

    const all = await list('');
    const id = (await ctx.database.db('users').where({ username: 'clerk.xixi' }).first()).id;
    expect((await admin.post(`/api/admin/users/${id}/disable`)).statusCode).toBe(200);
    expect((await list('status=disabled')).items.map((u) => u.username)).toEqual(['clerk.xixi']);
    const active = await list('status=active');
    expect(active.total).toBe(all.total - 1);
    expect(active.items.some((u) => u.disabled)).toBe(false);

    const bad = await admin.get('/api/admin/users?region=abc&status=gone');
    expect(bad.statusCode).toBe(422);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
  });
});
