import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import type { Limits } from '../../src/http/abuse.ts';
import { DEMO_PASSWORD, seedDemo } from '../../src/seed.ts';
import { TEST_DATA_KEYS, createEngine } from '../../src/services.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

/** A settable clock: tests move time forward instead of sleeping. */
export class TestClock {
  constructor(public current = new Date('2026-03-02T01:30:00Z')) {}
  now = () => new Date(this.current);
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface TestContext {
  database: TestDatabase;
  app: FastifyInstance;
  engine: Engine;
  clock: TestClock;
  /** Logs in a seeded demo user and returns a request helper acting as them. */
  as(username: string): Promise<Client>;
  /** Creates a user through the admin API (as admin.xihu, password NEW_USER_PASSWORD), logs them in. */
  newUser(user: { username: string; displayName: string; regionCode: string; department: string; roles: string[] }): Promise<Client>;
}

export const NEW_USER_PASSWORD = 'Initial#Pass2026';

export interface Client {
  token: string;
  get(url: string): Promise<LightMyRequestResponse>;
  post(url: string, body?: unknown): Promise<LightMyRequestResponse>;
}

/** Per test file: fresh database, demo region and users, the app behind inject(). */
/** Generous limits, so tests that query a lot are not throttled; the abuse tests use the real ones. */
const RELAXED = { trackPerAddressPerMinute: 1e9, loginPerAddressPerMinute: 1e9, trackFailuresPerReference: 1e9, loginFailuresPerUsername: 1e9, trackFailuresPerAddressPerDay: 1e9, loginFailuresPerAddressPerDay: 1e9, applyPerAddressPerMinute: 1e9, applyCodesPerAddressPerHour: 1e9 };

export function useTestApp(options: { limits?: Partial<Limits> } = {}): TestContext {
  const ctx = { clock: new TestClock() } as TestContext;
  const tokens = new Map<string, string>();
  beforeAll(async () => {
    ctx.database = await createTestDatabase();
    await seedDemo(ctx.database.db);
    ctx.engine = createEngine({ clock: ctx.clock.now, cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
    ctx.app = await buildApp({ db: ctx.database.db, engine: ctx.engine, sessionHours: 24 * 365, limits: options.limits ?? RELAXED });
  });
  afterAll(async () => {
    await ctx.app?.close();
    await ctx.database?.destroy();
  });
  ctx.as = async (username: string) => {
    let token = tokens.get(username);
    if (!token) {
      const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } });
      if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`);
      token = res.json().token as string;
      tokens.set(username, token);
    }
    return clientFor(token);
  };
  const clientFor = (token: string): Client => {
    const headers = { authorization: `Bearer ${token}` };
    return {
      token,
      get: (url) => ctx.app.inject({ method: 'GET', url, headers }),
      post: (url, body) => ctx.app.inject({ method: 'POST', url, headers, payload: (body ?? {}) as object }),
    };
  };
  ctx.newUser = async (user) => {
    const admin = await ctx.as('admin.xihu');
    const created = await admin.post('/api/admin/users', { ...user, password: NEW_USER_PASSWORD });
    if (created.statusCode !== 201) throw new Error(`creating ${user.username}: ${created.statusCode} ${created.body}`);
    const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user.username, password: NEW_USER_PASSWORD } });
    if (login.statusCode !== 200) throw new Error(`login ${user.username}: ${login.statusCode} ${login.body}`);
    return clientFor(login.json().token as string);
  };
  return ctx;
}

export const applicant = {
  name: '张三丰',
  idNumber: '11010519491231002X',
  phone: '13800138000',
  bankCard: '6222020200112233445',
};

export const application = { householdSize: 3, monthlyHouseholdIncomeFen: 120000, reason: '因病致贫，家庭收入低于当地低保标准' };
