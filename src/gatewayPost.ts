/** Where an external gateway is and how long one call may take (the SMS gateway's, the bank's). */
export interface GatewayOptions {
  url: string;
  token?: string;
  timeoutMs: number;
}

export type GatewayAnswer = { ok: true; id: string | null } | { ok: false; retryable: boolean; error: string };

/**
 * One POST to a gateway that dedupes on an idempotency key: `body` as JSON, `Idempotency-Key:
 * <key>`, `Authorization: Bearer <token>` if set, within the timeout. 2xx, or 409 (the key was
 * taken already), means accepted, with the id the gateway gave in `idField` of its JSON answer (an
 * empty or non-JSON 2xx still means accepted); 408, 425, 429, 5xx, timeouts and network errors are
 * worth retrying; other 4xx are final. Errors are stored, so every text the gateway or the network
 * said goes through `scrub` first (it may echo a phone number or a bank card).
 */
export async function postIdempotent(o: GatewayOptions, key: string, body: unknown, idField: string, scrub: (text: string) => string): Promise<GatewayAnswer> {
  let res: Response;
  try {
    res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key, ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
    });
  } catch (err) {
    const e = err as Error;
    return { ok: false, retryable: true, error: e.name === 'TimeoutError' ? `gateway timeout after ${o.timeoutMs} ms` : `gateway unreachable: ${scrub(e.message)}` };
  }
  const text = await res.text().catch(() => '');
  if (res.ok || res.status === 409) {
    let id: string | null = null;
    try {
      const given = JSON.parse(text)?.[idField];
      if (typeof given === 'string' || typeof given === 'number') id = String(given).slice(0, 128);
    } catch {
      /* an empty or non-JSON 2xx still means accepted */
    }
    return { ok: true, id };
  }
  const retryable = res.status >= 500 || [408, 425, 429].includes(res.status);
  return { ok: false, retryable, error: `gateway HTTP ${res.status}: ${scrub(text.slice(0, 200))}` };
}
