import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { canonicalJson } from '../engine/audit.ts';
import { DomainError } from '../engine/errors.ts';
import { actorOf } from './auth.ts';
import * as keys from '../db/idempotencyKeys.ts';
import { runTransaction } from '../db/transaction.ts';
import { clientGone } from './deadline.ts';


/**
 * Runs a mutating command in one transaction, honouring an `Idempotency-Key` header: the key is
 * recorded in the command's own transaction, so a retry with the same key and body — even one
 * racing the original — waits for it and gets the original response, changing nothing. The same
 * key with a different body is refused (422). Only successful responses are remembered: a refused
 * command wrote nothing, so retrying it simply runs it again.
 */
export async function command<T>(
  db: Knex,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  work: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  const key = request.headers['idempotency-key'];
  if (key === undefined) {
    const result = await runTransaction(db, work, { signal: clientGone(reply) });
    reply.status(status);
    return result;
  }
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new DomainError('bad_request', 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key 应为1至200个可见ASCII字符');
  }
  const actor = actorOf(request);
  const requestHash = createHash('sha256')
    .update(`${request.method} ${request.url.split('?')[0]}\n${canonicalJson(request.body ?? null)}`)
    .digest('hex');
  const userId = actor.id!;
  const outcome = await runTransaction(db, async (trx) => {
    if (!(await keys.claimKey(trx, userId, key, requestHash, new Date()))) {
      const prior = await keys.getKey(trx, userId, key);
      if (prior.request_hash !== requestHash) {
        throw new DomainError('invalid', 'IDEMPOTENCY_KEY_REUSED', '该 Idempotency-Key 已用于内容不同的请求');
      }
      return { replayed: true, status: Number(prior.status_code), body: prior.response as T };
    }
    const body = await work(trx);
    await keys.storeResponse(trx, userId, key, status, body);
    return { replayed: false, status, body };
  }, { signal: clientGone(reply) });
  if (outcome.replayed) reply.header('idempotent-replayed', 'true');
  reply.status(outcome.status);
  return outcome.body;
}
