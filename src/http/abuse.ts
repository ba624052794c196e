import type { FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import * as counters from '../db/rateLimits.ts';
import { DomainError } from '../engine/errors.ts';

/**
 * Abuse resistance, with every counter in PostgreSQL so that all service processes enforce the
 * same limits. Limits (per client address, per reference, per username) and lock periods are
 * constants here; docs/security.md lists them.
 */
export interface Limits {
  trackPerAddressPerMinute: number;
  trackFailuresPerReference: number;
  loginPerAddressPerMinute: number;
  loginFailuresPerUsername: number;
  failureWindowMs: number;
  lockMs: number;
}

export const LIMITS: Limits = {
  trackPerAddressPerMinute: 30,
  trackFailuresPerReference: 10,
  loginPerAddressPerMinute: 20,
  loginFailuresPerUsername: 5,
  failureWindowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
};

const tooMany = (code: string, message: string, until?: Date, now?: Date) =>
  new DomainError('too_many', code, message, until && now ? { retryAfterSeconds: Math.ceil((until.getTime() - now.getTime()) / 1000) } : undefined);

export async function limitAddress(db: Knex, request: FastifyRequest, scope: 'track' | 'login', now: Date, limits: Limits): Promise<void> {
  const max = scope === 'track' ? limits.trackPerAddressPerMinute : limits.loginPerAddressPerMinute;
  const { hits } = await counters.hit(db, `${scope}-ip:${request.ip}`, now, 60_000);
  if (hits > max) throw tooMany('RATE_LIMITED', '请求过于频繁，请稍后再试', new Date(now.getTime() + 60_000), now);
}

/**
 * A subject (a reference, a username) locked after repeated failures. The lock is keyed by the
 * string the caller typed, whether or not such a case or user exists, so a lock reveals nothing.
 */
export async function assertNotLocked(db: Knex, bucket: string, now: Date, message: string): Promise<void> {
  const until = await counters.lockedUntil(db, bucket, now);
  if (until) throw tooMany('TEMPORARILY_LOCKED', message, until, now);
}

export async function recordFailure(db: Knex, bucket: string, max: number, now: Date, l: Limits): Promise<void> {
  const { hits } = await counters.hit(db, bucket, now, l.failureWindowMs);
  if (hits >= max) await counters.lock(db, bucket, new Date(now.getTime() + l.lockMs));
}

export const clearFailures = counters.clear;
