import { describe, expect, inject, it } from 'vitest';
import { formatReport, runChaos } from '../../scripts/chaos/run.ts';

// The crash test of `npm run chaos` (docs/reliability.md), small: 4 clients, 2 kill -9s and one
// cut of every database connection in 30 s. It spawns the real service and needs a PostgreSQL
// server it can create a database on; PGlite lives inside one process and can be neither shared
// with a child process nor have its connections cut.
const adminUrl = inject('databaseUrl');

describe.skipIf(!adminUrl)('crash test (needs DATABASE_URL: the service runs as a separate process on PostgreSQL)', () => {
  it('loses and doubles no acknowledged command across kill -9s and a connection cut', async () => {
    const report = await runChaos({ adminUrl, clients: 4, kills: 2, seconds: 30, seed: 10, cut: true, keep: false, log: () => {} });
    const text = formatReport(report);
    expect(report.failures, text).toEqual([]);
    expect(report.verification.lost).toEqual([]);
    expect(report.verification.duplicated).toEqual([]);
    expect(report.verification.violations).toEqual([]);
    expect(report.kills).toHaveLength(2);
    expect(report.cut?.serviceRestarted, text).toBe(false);
    expect(report.cut?.allClientsMs, text).not.toBeNull();
    expect(report.stats.acked, text).toBeGreaterThan(100);
    expect(report.stats.conflicts, text).toBeGreaterThan(0);
    expect(report.stats.doublePayRefused, text).toBe(report.stats.doublePayProbes);
    expect(report.verification.payments, text).toBeGreaterThan(0);
  }, 240_000);
});
