import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import * as counters from '../db/rateLimits.ts';
import { DomainError } from '../engine/errors.ts';

/**
 * Abuse resistance, with every counter in PostgreSQL so that all service processes enforce the
 * same limits. docs/security.md lists them and the bound they give.
 *
 * Failures are counted per (subject, client address): a lock stops the address that failed, on
 * that account or reference only, so an attacker cannot lock out the rightful user, who comes
 * from another address. Each address also has a daily failure budget across all subjects, which
 * bounds what one address can guess in total; K addresses get K budgets.
 */
export interface Limits {
  trackPerAddressPerMinute: number;
  /** Wrong tracking codes per (reference, address) in `failureWindowMs` → that pair locked `lockMs`. */
  trackFailuresPerReference: number;
  /** Wrong tracking codes per address per day (any reference) → the address locked for the rest of the day window. */
  trackFailuresPerAddressPerDay: number;
  loginPerAddressPerMinute: number;
  /** Failed logins per (username, address) in `failureWindowMs` → that pair locked `lockMs`. */
  loginFailuresPerUsername: number;
  /** Failed logins per address per day (any username) → the address locked for the rest of the day window. */
  loginFailuresPerAddressPerDay: number;
  failureWindowMs: number;
  lockMs: number;
  /** Requests per address per minute to the public online-application endpoints (/api/public). */
  applyPerAddressPerMinute: number;
  /** Phone codes (SMS) one address may have sent per hour, over all its applications. */
  applyCodesPerAddressPerHour: number;
}

export const LIMITS: Limits = {
  trackPerAddressPerMinute: 30,
  trackFailuresPerReference: 10,
  trackFailuresPerAddressPerDay: 100,
  loginPerAddressPerMinute: 20,
  loginFailuresPerUsername: 5,
  loginFailuresPerAddressPerDay: 50,
  failureWindowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  applyPerAddressPerMinute: 10,
  applyCodesPerAddressPerHour: 10,
};

const DAY_MS = 24 * 3_600_000;

export type Scope = 'track' | 'login' | 'apply';

const tooMany = (code: string, message: string, until?: Date, now?: Date) =>
  new DomainError('too_many', code, message, until && now ? { retryAfterSeconds: Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)) } : undefined);

/** Anonymous routes and their per-address request budget; any other public route gets login's (the strictest). */
function scopeOf(url: string): Scope {
  return url.startsWith('/api/track') ? 'track' : url.startsWith('/api/public/') ? 'apply' : 'login';
}

export async function limitAddress(db: Knex, ip: string, scope: Scope, now: Date, limits: Limits): Promise<void> {
  const max = scope === 'track' ? limits.trackPerAddressPerMinute : scope === 'apply' ? limits.applyPerAddressPerMinute : limits.loginPerAddressPerMinute;
  const { hits } = await counters.hit(db, `${scope}-ip:${ip}`, now, 60_000);
  if (hits > max) throw tooMany('RATE_LIMITED', '请求过于频繁，请稍后再试', new Date(now.getTime() + 60_000), now);
}

/**
 * Anonymous routes are throttled per client address in `onRequest`, before their body is read
 * or parsed: a flood costs one counter update per request, never a parse.
 */
export function installAnonymousThrottle(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    // Probes (/healthz, /readyz, /metrics) are polled by orchestrators: no budget, no database write.
    if (!request.routeOptions.config?.public || request.routeOptions.config.probe || request.is404) return;
    await limitAddress(app.deps.db, request.ip, scopeOf(request.routeOptions.url ?? ''), app.deps.engine.clock(), app.deps.limits);
  });
}

/** The failure counters of one attempt: the (subject, address) pair and the address's daily budget. */
export interface FailureBuckets {
  pair: string;
  address: string;
}

export function failureBuckets(scope: Scope, subject: string, request: FastifyRequest): FailureBuckets {
  return { pair: `${scope}-fail:${request.ip}:${subject}`, address: `${scope}-fail-ip:${request.ip}` };
}

/**
 * Refuses while the pair or the address is locked. Buckets are keyed by the string the caller
 * typed, whether or not such a case or user exists, so a lock reveals nothing.
 */
export async function assertNotLocked(db: Knex, buckets: FailureBuckets, now: Date, message: string): Promise<void> {
  for (const bucket of [buckets.pair, buckets.address]) {
    const until = await counters.lockedUntil(db, bucket, now);
    if (until) throw tooMany('TEMPORARILY_LOCKED', message, until, now);
  }
}

export async function recordFailure(db: Knex, scope: Scope, buckets: FailureBuckets, now: Date, l: Limits): Promise<void> {
  const pairMax = scope === 'track' ? l.trackFailuresPerReference : l.loginFailuresPerUsername;
  const addressMax = scope === 'track' ? l.trackFailuresPerAddressPerDay : l.loginFailuresPerAddressPerDay;
  const pair = await counters.hit(db, buckets.pair, now, l.failureWindowMs);
  if (pair.hits >= pairMax) await counters.lock(db, buckets.pair, new Date(now.getTime() + l.lockMs));
  const address = await counters.hit(db, buckets.address, now, DAY_MS);
  // Locked until the day window that counted the failures ends.
  if (address.hits >= addressMax) await counters.lock(db, buckets.address, new Date(address.windowStart.getTime() + DAY_MS));
}

/** A success clears its pair only: an attacker's own account must not reset the address's budget. */
export async function clearFailures(db: Knex, buckets: FailureBuckets): Promise<void> {
  await counters.clear(db, buckets.pair);
}
