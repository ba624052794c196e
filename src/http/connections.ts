import fs from 'node:fs';
import type { Server } from 'node:http';
import { BlockList, isIP, isIPv6, type Socket } from 'node:net';

/**
 * Connection caps on the listening server, so that sockets — slow-header ones above all — can
 * never take the file descriptors the database pool needs: a cap per client address, a total cap
 * below the process's descriptor limit, a headers timeout well under a minute and a request
 * timeout. A socket over a cap is destroyed on accept, before any byte is read.
 */
export interface ConnectionLimits {
  maxConnections: number;
  maxPerAddress: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/** The soft "Max open files" limit from /proc/self/limits (Linux), else undefined. */
export function descriptorLimit(limitsFile = '/proc/self/limits'): number | undefined {
  try {
    const line = fs.readFileSync(limitsFile, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line ? Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]) : NaN;
    return Number.isFinite(soft) && soft > 0 ? soft : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors kept back for the database pool, data files, logs and the runtime. */
const RESERVED_DESCRIPTORS = 256;
/** Used when the limit cannot be read (not Linux): typical default soft limit minus the reserve. */
const FALLBACK_MAX_CONNECTIONS = 1024 - RESERVED_DESCRIPTORS;

/** 80% of the descriptor limit and at least RESERVED_DESCRIPTORS below it. */
export function defaultMaxConnections(limit: number | undefined): number {
  if (limit === undefined) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(16, Math.min(limit - RESERVED_DESCRIPTORS, Math.floor(limit * 0.8)));
}

export const DEFAULT_CONNECTION_LIMITS: Omit<ConnectionLimits, 'maxConnections'> = {
  maxPerAddress: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/** `::ffff:127.0.0.1` and `127.0.0.1` are one client. */
const normalise = (address: string | undefined) => (address ?? '').replace(/^::ffff:/, '');

/**
 * Installs the caps on `server` (call before listen). `exempt` names socket addresses not
 * capped per address — trusted reverse proxies, which carry many clients' connections.
 * Returns the live count per address, for tests and diagnostics.
 */
export function installConnectionLimits(server: Server, limits: ConnectionLimits, exempt: (address: string) => boolean = () => false): Map<string, number> {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  // Node enforces both timeouts from a periodic sweep (30 s by default); the sweep must run
  // often enough for a short timeout to mean what it says. Read when the server starts listening.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    10,
    Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)),
  );
  server.maxConnections = limits.maxConnections;

  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = normalise(socket.remoteAddress);
    if (exempt(address)) return;
    const count = perAddress.get(address) ?? 0;
    if (count >= limits.maxPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, count + 1);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
  return perAddress;
}

const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * Whether a socket address is one of the trusted proxies of a TRUST_PROXY list (addresses,
 * CIDRs, or proxy-addr's names loopback/linklocal/uniquelocal). No list exempts nobody.
 */
export function trustedProxyMatcher(trustProxy: false | string[]): (address: string) => boolean {
  if (!Array.isArray(trustProxy)) return () => false;
  const list = new BlockList();
  for (const entry of trustProxy.flatMap((e) => NAMED_RANGES[e] ?? [e])) {
    const [address, prefix] = entry.split('/');
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (address) => (isIP(address) ? list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4') : false);
}
