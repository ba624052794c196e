// npm start: the service. SERVICE_PROCESSES > 1 makes this process the primary of a cluster of
// service processes on one port (src/cluster.ts); otherwise, or in each of them, it serves.
import cluster from 'node:cluster';
import { loadConfig } from './config.ts';
import { superviseServiceProcesses } from './cluster.ts';
import { serve } from './serve.ts';

const config = loadConfig();
if (cluster.isPrimary && config.serviceProcesses > 1) {
  const log = (msg: string, extra?: Record<string, unknown>) => console.log(JSON.stringify({ level: 'info', msg, ...extra }));
  process.exit(await superviseServiceProcesses({ processes: config.serviceProcesses, log }));
} else {
  await serve(config);
}
