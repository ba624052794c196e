// npm start: the service. SERVICE_PROCESSES > 1 makes this process the primary of a cluster of
// service processes on one port (src/cluster.ts); otherwise, or in each of them, it serves.
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import { loadConfig } from './config.ts';
import { superviseServiceProcesses } from './cluster.ts';
import { serve } from './serve.ts';

const config = loadConfig();
if (cluster.isPrimary && config.serviceProcesses > 1) {
  // The primary's few lines in the shape of the service processes' pino lines (one log stream).
  const levels = { info: 30, warn: 40, error: 50 } as const;
  const min = (levels as Record<string, number>)[config.logLevel] ?? 0;
  const log = (level: keyof typeof levels, msg: string, extra?: Record<string, unknown>) => {
    if (levels[level] >= min) console.log(JSON.stringify({ level: levels[level], time: Date.now(), pid: process.pid, hostname: hostname(), msg, ...extra }));
  };
  process.exit(await superviseServiceProcesses({ processes: config.serviceProcesses, log }));
} else {
  await serve(config);
}
