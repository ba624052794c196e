import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { formatReport, runChaos } from '../../scripts/chaos/run.ts';
import { verifyRun } from '../../scripts/chaos/verify.ts';
import { connect } from '../../src/db/connection.ts';
import { PersonalDataCipher } from '../../src/engine/personalData.ts';
import { TEST_DATA_KEYS } from '../../src/services.ts';

// The crash test of `npm run chaos` (docs/reliability.md), small: 4 clients, 2 kill -9s and one
// cut of every database connection in 30 s. It spawns the real service and needs a PostgreSQL
// server it can create a database on; PGlite lives inside one process and can be neither shared
// with a child process nor have its connections cut.
const adminUrl = inject('databaseUrl');

describe.skipIf(!adminUrl)('crash test (needs DATABASE_URL: the service runs as a separate process on PostgreSQL)', () => {
  it('loses and doubles no acknowledged command across kill -9s and a connection cut; the checks catch what they claim to', async () => {
    const report = await runChaos({ adminUrl, clients: 4, kills: 2, seconds: 30, seed: 10, cut: true, keep: true, log: () => {} });
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const db = connect({ kind: 'postgres', url: report.databaseUrl, poolMax: 2 });
    try {
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
      expect(report.verification.timers.fired, text).toBeGreaterThan(0);

      // The verifier is not vacuous: tamper with the kept database and the record, and it objects.
      const cipher = PersonalDataCipher.fromSpec(TEST_DATA_KEYS);
      const paid = report.commands.find((c) => c.ack && c.type === 'PAY_MONTH')!;
      // An acknowledgement whose effect is not there → lost.
      const phantom = { ...paid, n: -1, key: 'chaos-phantom', ack: { ...paid.ack!, version: paid.ack!.version + 1000 } };
      expect((await verifyRun(db, cipher, [...report.commands, phantom])).lost.length).toBeGreaterThan(0);
      // An event no committed key accounts for (as a command applied twice would leave) → duplicated.
      await db('idempotency_keys').where({ key: paid.key }).delete();
      const unkeyed = await verifyRun(db, cipher, report.commands);
      expect(unkeyed.duplicated.some((d) => d.includes('belongs to no committed command'))).toBe(true);
      expect(unkeyed.lost.some((l) => l.includes('never committed'))).toBe(true);
      // A live task the state does not ask for, a closed one it does → violation.
      const live = await db('tasks').whereIn('status', ['open', 'claimed']).first();
      await db('tasks').where({ id: live.id }).update({ status: 'cancelled' });
      expect((await verifyRun(db, cipher, report.commands)).violations.some((v) => v.includes('live tasks'))).toBe(true);
    } finally {
      await db.destroy();
      await admin.query(`drop database if exists ${report.database} with (force)`);
      await admin.end();
    }
  }, 240_000);
});
