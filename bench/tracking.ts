/**
 * Tracking answers must not reveal whether a reference exists: an unknown reference and a wrong
 * code should cost the same. Measured in-process (app.inject) against PostgreSQL, interleaved.
 *
 * Every request is a failure, so the bench's own app lifts all three tracking limits (the
 * service's are untouched: every failure still pays its counter writes, as in production) and
 * sends from an address of its own, with that address's counters cleared first — so the result
 * does not depend on which parts ran before it in the same process or database.
 *
 *   BENCH_TRACK_ROUNDS (default 2000, small 300)
 */
import { buildApp } from '../src/http/app.ts';
import { PersonalDataCipher } from '../src/engine/personalData.ts';
import { TEST_DATA_KEYS, createEngine } from '../src/services.ts';
import { demoActor, freshBenchDatabase, summarise } from './support.ts';

const ROUNDS = Number(process.env.BENCH_TRACK_ROUNDS ?? (process.env.BENCH_SCALE === 'small' ? 300 : 2000));
// TEST-NET-2 (RFC 5737): no real client has it, so no earlier request shares its buckets.
const ADDRESS = '198.51.100.11';

export async function benchTracking(): Promise<void> {
  console.log(`\n## Tracking: wrong code vs unknown reference, ${ROUNDS} requests each`);
  const db = await freshBenchDatabase();
  const engine = createEngine({ cipher: PersonalDataCipher.fromSpec(TEST_DATA_KEYS) });
  const app = await buildApp({ db, engine, sessionHours: 1, limits: { trackPerAddressPerMinute: 1e9, trackFailuresPerReference: 1e9, trackFailuresPerAddressPerDay: 1e9 } });
  try {
    const clerk = await demoActor(db, 'clerk.beishan');
    const { reference } = await db.transaction((t) =>
      engine.openCase(t, clerk, {
        procedureId: 'social-assistance',
        applicant: { name: '测试', idNumber: '11010519491231002X', phone: '13800138000' },
        application: { householdSize: 2, monthlyHouseholdIncomeFen: 100000, reason: '基准测试' },
      }),
    );
    const unknown = reference.replace(/-(\d{4})-/, '-9999-');
    await db('rate_limits').where('bucket', 'like', `%${ADDRESS}%`).delete();
    const wrong: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const [ref, out] of [[reference, wrong], [unknown, missing]] as const) {
        const t0 = performance.now();
        const res = await app.inject({ method: 'GET', url: `/api/track/${ref}?code=ZZZZZZZZ`, remoteAddress: ADDRESS });
        out.push(performance.now() - t0);
        if (res.statusCode !== 404) throw new Error(`expected 404, got ${res.statusCode}: ${res.body.slice(0, 200)}`);
      }
    }
    const a = summarise(wrong, 1);
    const b = summarise(missing, 1);
    console.log(`wrong code          p50 ${a.p50.toFixed(2)} ms  p99 ${a.p99.toFixed(2)} ms`);
    console.log(`unknown reference   p50 ${b.p50.toFixed(2)} ms  p99 ${b.p99.toFixed(2)} ms`);
    console.log(`p50 difference      ${(Math.abs(a.p50 - b.p50) * 1000).toFixed(0)} µs`);
  } finally {
    await app.close();
    await db.destroy();
  }
}
