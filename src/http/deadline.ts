import type { FastifyReply } from 'fastify';

/**
 * Aborts when the client goes away before its answer was sent (closed tab, client-side timeout),
 * so the command's running statement is cancelled (src/db/transaction.ts) instead of holding a
 * pooled connection — and perhaps a case lock — for an answer nobody will read.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  // 'close' follows either the end of the response or a connection cut before it.
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
