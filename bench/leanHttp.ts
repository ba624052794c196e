import net from 'node:net';

/**
 * The load generator's HTTP client: keep-alive HTTP/1.1 over plain sockets, one request at a time
 * per socket, reading only the status line and as many body bytes as the response says.
 *
 * Why not node:http: the load generator shares the two cores with the service and PostgreSQL,
 * and node:http's client cost ~0.6 ms of CPU per request here — as much as the whole bare-Node
 * reference service. pgbench's client is C and costs next to nothing; the service's figure should
 * not pay for a heavy client either. Only for the bench's own servers (fastify and node:http
 * answers: Content-Length or chunked bodies).
 */
export class LeanHttp {
  private idle: Connection[] = [];
  private readonly host: string;
  private readonly port: number;

  constructor(base: string) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
  }

  async request(method: string, path: string, headers: Record<string, string>, body = ''): Promise<number> {
    const payload = Buffer.from(body);
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\nconnection: keep-alive\r\ncontent-length: ${payload.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const bytes = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), payload]);
    // An idle connection the server has closed meanwhile (its keep-alive timeout: 72 s for
    // fastify, while other phases ran) is dropped; one that closes as the request goes out is
    // retried once on a new connection, as HTTP clients do for a stale keep-alive socket.
    let conn: Connection | undefined;
    while ((conn = this.idle.pop()) && conn.closed);
    const reused = conn !== undefined;
    conn ??= await Connection.open(this.host, this.port);
    try {
      const { status, close } = await conn.send(bytes);
      if (close) conn.destroy();
      else this.idle.push(conn);
      return status;
    } catch (err) {
      conn.destroy();
      if (reused) return this.request(method, path, headers, body);
      throw err;
    }
  }

  post(path: string, headers: Record<string, string>, body: string): Promise<number> {
    return this.request('POST', path, { 'content-type': 'application/json', ...headers }, body);
  }

  close(): void {
    for (const c of this.idle) c.destroy();
    this.idle = [];
  }
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve(r: { status: number; close: boolean }): void; reject(e: Error): void } | null = null;
  /** The socket has closed: a request on it would never be answered. */
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.parse();
    });
    const fail = (err: Error) => {
      const w = this.waiting;
      this.waiting = null;
      w?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => {
      this.closed = true;
      fail(new Error('connection closed'));
    });
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => {
        socket.off('error', reject);
        resolve(new Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): Promise<{ status: number; close: boolean }> {
    return new Promise((resolve, reject) => {
      // A write to a destroyed socket reports only to its callback: without one the request would wait forever.
      if (this.closed) return reject(new Error('connection closed'));
      this.waiting = { resolve, reject };
      this.socket.write(bytes, (err) => err && this.waiting?.reject(err));
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** One whole response in the buffer → resolve with its status, keep whatever follows. */
  private parse(): void {
    if (!this.waiting) return;
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const close = /\r\nconnection:\s*close/i.test(head);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let total: number;
    if (length) total = end + 4 + Number(length[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = this.buffer.indexOf('\r\n0\r\n\r\n', end);
      if (last < 0) return;
      total = last + 7;
    } else total = end + 4; // no body (204, 304)
    if (this.buffer.length < total) return;
    this.buffer = this.buffer.subarray(total);
    const w = this.waiting;
    this.waiting = null;
    w.resolve({ status, close });
  }
}
