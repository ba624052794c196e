import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatewayRequest {
  idempotencyKey: string | undefined;
  authorization: string | undefined;
  body: { to: string; text: string; idempotencyKey: string; signName?: string };
}

/**
 * A local fake SMS gateway (node:http on port 0) that dedupes on the idempotency key, as the
 * production gateway must. `respond` decides each answer (default 200); `delivered` holds each
 * key's message once, `requests` every request received.
 */
export class FakeSmsGateway {
  readonly requests: GatewayRequest[] = [];
  readonly delivered = new Map<string, GatewayRequest>();
  respond: (req: GatewayRequest, n: number) => { status: number; body?: unknown; delayMs?: number } = () => ({ status: 200 });
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const r: GatewayRequest = { idempotencyKey: req.headers['idempotency-key'] as string | undefined, authorization: req.headers.authorization, body: JSON.parse(raw) };
        this.requests.push(r);
        const answer = this.respond(r, this.requests.length);
        const finish = () => {
          if (answer.status < 300 && r.idempotencyKey && !this.delivered.has(r.idempotencyKey)) this.delivered.set(r.idempotencyKey, r);
          const id = r.idempotencyKey ? `gw-${[...this.delivered.keys()].indexOf(r.idempotencyKey) + 1}` : 'gw-0';
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answer.body ?? (answer.status < 300 ? { messageId: id } : { error: 'failed' })));
        };
        if (answer.delayMs) setTimeout(finish, answer.delayMs);
        else finish();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/sms`;
    return this;
  }

  /** Requests per idempotency key. */
  perKey(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.requests) m.set(r.idempotencyKey ?? '', (m.get(r.idempotencyKey ?? '') ?? 0) + 1);
    return m;
  }

  reset(): void {
    this.requests.length = 0;
    this.delivered.clear();
    this.respond = () => ({ status: 200 });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
