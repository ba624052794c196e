/**
 * The queries bench on a database that stays: `BENCH_DB=onewindow_scale BENCH_REUSE=1 npx tsx bench/scale/main.ts`
 * generates the million once and measures again on later runs (for profiling: EXPLAIN on that database).
 */
import { describeMachine } from '../support.ts';
import { benchQueries } from '../queries.ts';

console.log(await describeMachine());
await benchQueries();
