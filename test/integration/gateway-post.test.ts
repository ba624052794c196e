import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { postIdempotent } from '../../src/gatewayPost.ts';
import { FakeSmsGateway } from '../support/smsGateway.ts';

// The SMS gateway's and the bank's one protocol (src/gatewayPost.ts): what counts as accepted,
// what is worth retrying, and that an error never keeps what the other side echoed.
const gateway = new FakeSmsGateway();
beforeAll(() => gateway.start());
afterAll(() => gateway.stop());

const scrub = (text: string) => text.replaceAll('13800138000', '138****8000');
const post = (timeoutMs = 2000) => postIdempotent({ url: gateway.url, token: 't', timeoutMs }, 'key-1', { to: '13800138000', text: '你好', idempotencyKey: 'key-1' }, 'messageId', scrub);

describe('a POST to an idempotent gateway', () => {
  it('counts 409 (the key was taken before) as accepted, with the id the gateway gave', async () => {
    gateway.respond = () => ({ status: 409, body: { messageId: 77 } });
    expect(await post()).toEqual({ ok: true, id: '77' });
    expect(gateway.requests.at(-1)).toMatchObject({ idempotencyKey: 'key-1', authorization: 'Bearer t' });
  });

  it('takes a 2xx that names no id as accepted, without one', async () => {
    gateway.respond = () => ({ status: 202, body: '' });
    expect(await post()).toEqual({ ok: true, id: null });
  });

  it('retries 429 and 5xx, not 4xx, and scrubs what the answer echoed', async () => {
    gateway.respond = () => ({ status: 429 });
    expect(await post()).toMatchObject({ ok: false, retryable: true, error: expect.stringContaining('HTTP 429') });
    gateway.respond = (r) => ({ status: 400, body: { error: `bad number ${r.body.to}` } });
    const refused = await post();
    expect(refused).toMatchObject({ ok: false, retryable: false });
    expect(JSON.stringify(refused)).toContain('138****8000');
    expect(JSON.stringify(refused)).not.toContain('13800138000');
  });

  it('retries a gateway that does not answer in time, or cannot be reached', async () => {
    gateway.respond = () => ({ status: 200, delayMs: 300 });
    expect(await post(50)).toEqual({ ok: false, retryable: true, error: 'gateway timeout after 50 ms' });
    // A port nobody listens on: taken, then released.
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    const down = await postIdempotent({ url: `http://127.0.0.1:${port}/`, timeoutMs: 2000 }, 'k', {}, 'id', scrub);
    expect(down).toMatchObject({ ok: false, retryable: true, error: expect.stringMatching(/^gateway unreachable: /) });
  });
});
