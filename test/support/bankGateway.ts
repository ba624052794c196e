import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BankRequest {
  idempotencyKey: string | undefined;
  authorization: string | undefined;
  body: { instructionId: string; paymentId: string; round: number; reference: string; period: string; amountFen: number; amount: string; name: string; bankCard: string; regionCode: string; summary: string };
}

/**
 * A local fake bank / finance gateway (node:http on port 0) that pays an idempotency key once, as
 * the production gateway must. `respond` decides each answer (default 200); `paid` holds each
 * key's instruction once, `requests` every request received.
 */
export class FakeBankGateway {
  readonly requests: BankRequest[] = [];
  readonly paid = new Map<string, BankRequest>();
  respond: (req: BankRequest, n: number) => { status: number; body?: unknown } = () => ({ status: 200 });
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const r: BankRequest = { idempotencyKey: req.headers['idempotency-key'] as string | undefined, authorization: req.headers.authorization, body: JSON.parse(raw) };
        this.requests.push(r);
        const answer = this.respond(r, this.requests.length);
        if (answer.status < 300 && r.idempotencyKey && !this.paid.has(r.idempotencyKey)) this.paid.set(r.idempotencyKey, r);
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body ?? (answer.status < 300 ? { reference: `BK-${r.idempotencyKey}` } : { error: 'failed' })));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/payments`;
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.paid.clear();
    this.respond = () => ({ status: 200 });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
