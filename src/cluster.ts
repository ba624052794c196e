import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * SERVICE_PROCESSES > 1: several service processes on one host share the port (Node cluster).
 * One Node process runs its JavaScript on one core; on a host with more, the others would only
 * serve PostgreSQL. Every process is a whole service (timer worker included: firing is
 * exactly-once across processes by SKIP LOCKED claims), so the primary holds no state of the
 * product: it forks, replaces a process that died, passes signals on, and answers the processes'
 * requests for the metrics of all of them.
 */

const METRICS_REQUEST = 'onewindow:metrics-request';
const METRICS_REPLY = 'onewindow:metrics-reply';
// prom-client's own messages (lib/cluster.js), answered by its listener in each service process.
const PROM_REQ = 'prom-client:getMetricsReq';
const PROM_RES = 'prom-client:getMetricsRes';

export interface SuperviseOptions {
  processes: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** A process that dies is forked again after this delay… */
  restartDelayMs?: number;
  /** …unless more than `maxRestarts` died within `restartWindowMs`: a crash loop stops the service. */
  maxRestarts?: number;
  restartWindowMs?: number;
}

/**
 * Runs in the primary until every service process has exited after SIGTERM/SIGINT (or a crash
 * loop or a first process that never listened); resolves with the exit code for the primary.
 * The first process starts alone and the others only once it listens, so migrations (and the
 * embedded seed, were it allowed) run once, never racing.
 */
export function superviseServiceProcesses(options: SuperviseOptions): Promise<number> {
  const { processes, log } = options;
  const restartDelayMs = options.restartDelayMs ?? 1000;
  const maxRestarts = options.maxRestarts ?? 5;
  const restartWindowMs = options.restartWindowMs ?? 60_000;
  // Only processes that listen are asked for their metrics: one still starting has not yet
  // installed prom-client's answering listener, and waiting for it would time the scrape out.
  const serving = new Set<Worker>();
  const metricsOf = metricsGatherer(serving);
  let stopping = false;
  let exitCode = 0;
  let listening = false;
  const deaths: number[] = [];

  return new Promise((resolve) => {
    // Own count, not cluster.workers: a worker leaves that only once both its exit and its
    // disconnect are seen, which may be after its 'exit' event.
    const running = new Set<Worker>();
    const stop = (signal: NodeJS.Signals, code: number) => {
      if (code !== 0) exitCode = code;
      if (stopping) return;
      stopping = true;
      for (const w of running) w.process.kill(signal);
      if (running.size === 0) resolve(exitCode);
    };
    const fork = () => {
      const w = cluster.fork();
      running.add(w);
      w.on('message', (m: { type?: string; id?: number }) => {
        if (m?.type !== METRICS_REQUEST) return;
        metricsOf().then(
          (text) => w.isConnected() && w.send({ type: METRICS_REPLY, id: m.id, text }),
          (err: Error) => w.isConnected() && w.send({ type: METRICS_REPLY, id: m.id, error: err.message }),
        );
      });
      return w;
    };

    let announced = false;
    cluster.on('listening', (w) => {
      serving.add(w);
      if (!listening) {
        listening = true;
        for (let i = 1; i < processes; i++) fork();
      }
      if (!announced && serving.size === processes) {
        announced = true;
        log('info', `service: ${processes} processes listening on one port`, { primary: process.pid, pids: [...serving].map((x) => x.process.pid) });
      }
    });
    cluster.on('exit', (w, code, signal) => {
      serving.delete(w);
      running.delete(w);
      if (stopping) {
        if (code !== 0 && signal === null) exitCode = 1;
        if (running.size === 0) resolve(exitCode);
        return;
      }
      log('warn', 'service process exited', { pid: w.process.pid, code, signal });
      // The first process failed before it listened (a bad configuration, a failed migration,
      // the port taken): forking again would fail the same way.
      if (!listening) return stop('SIGTERM', code || 1);
      const now = Date.now();
      deaths.push(now);
      while (deaths.length && deaths[0] < now - restartWindowMs) deaths.shift();
      if (deaths.length > maxRestarts) {
        log('error', `service processes died ${deaths.length} times within ${restartWindowMs / 1000} s: stopping`);
        return stop('SIGTERM', 1);
      }
      // Not unref'd: with every process dead this timer is what keeps the primary alive to fork again.
      setTimeout(() => !stopping && fork(), restartDelayMs);
    });
    process.on('SIGTERM', () => stop('SIGTERM', 0));
    process.on('SIGINT', () => stop('SIGINT', 0));
    fork();
  });
}

/**
 * The primary's side of the aggregation: prom-client's request to every serving process, their
 * answers aggregated by AggregatorRegistry.aggregate. Not AggregatorRegistry#clusterMetrics,
 * which asks every connected process, starting ones too. prom-client's listener in each service
 * process (clusterExposition) answers; only the two message types are shared with it.
 */
function metricsGatherer(serving: Set<Worker>, timeoutMs = 5000): () => Promise<string> {
  const pending = new Map<number, { responses: object[]; waiting: Set<Worker>; done: (err: Error | null) => void }>();
  let next = 0;
  cluster.on('message', (w, m: { type?: string; requestId?: number; metrics?: object[]; error?: string }) => {
    if (m?.type !== PROM_RES || m.requestId === undefined) return;
    const p = pending.get(m.requestId);
    if (!p || !p.waiting.delete(w)) return;
    if (m.error) return p.done(new Error(m.error));
    p.responses.push(...(m.metrics ?? []));
    if (p.waiting.size === 0) p.done(null);
  });
  return () =>
    new Promise((resolve, reject) => {
      const requestId = next++;
      const waiting = new Set([...serving].filter((w) => w.isConnected()));
      const responses: object[] = [];
      const timer = setTimeout(() => p.done(new Error(`${p.waiting.size} service process(es) did not answer`)), timeoutMs);
      const p = {
        responses,
        waiting,
        done(err: Error | null) {
          if (!pending.delete(requestId)) return;
          clearTimeout(timer);
          if (err) return reject(err);
          AggregatorRegistry.aggregate(responses as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics().then(resolve, reject);
        },
      };
      pending.set(requestId, p);
      for (const w of waiting) w.send({ type: PROM_REQ, requestId });
      if (waiting.size === 0) p.done(null);
    });
}

/**
 * In a service process of a cluster: the Prometheus exposition of all the host's service
 * processes, aggregated by the primary (prom-client's AggregatorRegistry: counters and histograms
 * summed; gauges by their `aggregator`), so a scrape that lands on any process sees the whole.
 */
export function clusterExposition(registry: Registry, timeoutMs = 6000): () => Promise<string> {
  // The constructor installs prom-client's listener that answers the primary with this
  // process's registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  let next = 0;
  process.on('message', (m: { type?: string; id: number; text?: string; error?: string }) => {
    if (m?.type !== METRICS_REPLY) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.text ?? '');
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the primary did not answer'));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      process.send!({ type: METRICS_REQUEST, id });
    });
}

export const isServiceProcessOfCluster = () => cluster.isWorker;
