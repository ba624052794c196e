/**
 * npm run chaos — the crash test (docs/reliability.md). PostgreSQL only: DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test) is the admin connection; the run creates and drops its
 * own database ow_chaos_<random>. Options: --clients 16 --kills 5 --seconds 90 --seed 1 --no-cut --keep
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ADMIN_URL, formatReport, runChaos } from './chaos/run.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '16' },
    kills: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '90' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    'no-cut': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const int = (name: string, raw: string, min: number) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
};

// Ctrl-C: exit through process.exit, so that the run's exit hook kills the service too.
process.once('SIGINT', () => process.exit(130));

const report = await runChaos({
  adminUrl: process.env.DATABASE_URL || DEFAULT_ADMIN_URL,
  clients: int('clients', values.clients, 1),
  kills: int('kills', values.kills, 0),
  seconds: int('seconds', values.seconds, 5),
  seed: int('seed', values.seed, 0),
  cut: !values['no-cut'],
  keep: values.keep,
  log: (line) => console.log(`[chaos] ${line}`),
});
console.log(values.json ? JSON.stringify({ ...report, commands: undefined }, null, 2) : formatReport(report));
process.exit(report.failures.length ? 1 : 0);
