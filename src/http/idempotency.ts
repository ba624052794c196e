import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { canonicalJson } from '../engine/audit.ts';
import { DomainError } from '../engine/errors.ts';
import { actorOf } from './auth.ts';
import * as keys from '../db/idempotencyKeys.ts';
import type { PersonalDataCipher } from '../engine/personalData.ts';
import { runTransaction } from '../db/transaction.ts';
import { clientGone } from './deadline.ts';


/**
 * Runs a mutating command in one transaction, honouring an `Idempotency-Key` header: the key is
 * recorded in the command's own transaction, so a retry with the same key and body — even one
 * racing the original — waits for it and gets the original response, changing nothing. The same
 * key with a different body is refused (422). Only successful responses are remembered: a refused
 * command wrote nothing, so retrying it simply runs it again.
 *
 * Stored responses are encrypted with the data key (opening a case answers with the citizen's
 * tracking code). Keys older than IDEMPOTENCY_TTL_MS count as absent, and every keyed command
 * also purges a bounded batch of expired keys, at most once a minute per process, so nothing
 * depends on a timer worker running.
 */
export async function command<T>(
  db: Knex,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  work: (trx: Knex.Transaction) => Promise<T>,
  /** What identifies the request instead of its body — a body holding a password must not be hashed as it is. */
  fingerprint: unknown = request.body,
  /**
   * `work` writes nothing after its last engine write (a transition): without a key, COMMIT may go
   * with that write (runTransaction's commitWithLastWrite). With a key the response is stored after.
   */
  options: { commitWithLastWrite?: boolean } = {},
): Promise<T> {
  const key = request.headers['idempotency-key'];
  if (key === undefined) {
    const result = await runTransaction(db, work, { signal: clientGone(reply), commitWithLastWrite: options.commitWithLastWrite });
    reply.status(status);
    return result;
  }
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new DomainError('bad_request', 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key 应为1至200个可见ASCII字符');
  }
  const actor = actorOf(request);
  const requestHash = createHash('sha256')
    .update(`${request.method} ${request.url.split('?')[0]}\n${canonicalJson(fingerprint ?? null)}`)
    .digest('hex');
  const userId = actor.id!;
  const { engine } = request.server.deps;
  const now = engine.clock();
  const outcome = await runTransaction(db, async (trx) => {
    if (!(await keys.claimKey(trx, userId, key, requestHash, now))) {
      const prior = await keys.getKey(trx, userId, key);
      if (prior.request_hash !== requestHash) {
        throw new DomainError('invalid', 'IDEMPOTENCY_KEY_REUSED', '该 Idempotency-Key 已用于内容不同的请求');
      }
      return { replayed: true, status: Number(prior.status_code), body: openResponse(engine.cipher, prior.response) as T };
    }
    const body = await work(trx);
    await keys.storeResponse(trx, userId, key, status, engine.cipher.encrypt(JSON.stringify(body ?? null)));
    return { replayed: false, status, body };
  }, { signal: clientGone(reply) });
  await purgeExpiredKeys(db, now).catch((err) => request.log.warn({ err }, 'purging expired idempotency keys failed'));
  if (outcome.replayed) reply.header('idempotent-replayed', 'true');
  reply.status(outcome.status);
  return outcome.body;
}

/** A stored response: an encrypted JSON string, or (rows from before encryption) the plain body. */
function openResponse(cipher: PersonalDataCipher, stored: unknown): unknown {
  return typeof stored === 'string' ? JSON.parse(cipher.decrypt(stored)) : stored;
}

const PURGE_EVERY_MS = 60_000;
const lastPurge = new WeakMap<Knex, number>();

/** One bounded batch of expired keys, at most once a minute per process unless `force`d. */
export async function purgeExpiredKeys(db: Knex, now: Date, force = false): Promise<number> {
  const last = lastPurge.get(db);
  if (!force && last !== undefined && Math.abs(now.getTime() - last) < PURGE_EVERY_MS) return 0;
  lastPurge.set(db, now.getTime());
  return keys.purgeSomeKeysBefore(db, new Date(now.getTime() - keys.IDEMPOTENCY_TTL_MS));
}
