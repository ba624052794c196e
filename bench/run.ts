/**
 * npm run bench — against PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test);
 * creates and drops its own database `onewindow_bench_<pid>` (BENCH_DB to name it). BENCH_ONLY=transitions|timers|tracking|deep-json|queries|graphile|startup|memory|scaleout runs one part.
 */
import { describeMachine, dropBenchDatabase } from './support.ts';
import { benchDeepJson } from './deepJson.ts';
import { benchTimers } from './timers.ts';
import { benchTracking } from './tracking.ts';
import { benchTransitions } from './transitions.ts';
import { benchStartup } from './startup.ts';
import { benchMemory } from './memory.ts';
import { benchGraphile } from './graphile.ts';
import { benchScaleout } from './scaleout.ts';

console.log(await describeMachine());
const only = process.env.BENCH_ONLY;
if (!only || only === 'transitions') await benchTransitions();
if (!only || only === 'timers') await benchTimers();
if (!only || only === 'tracking') await benchTracking();
if (!only || only === 'deep-json') await benchDeepJson();
if (!only || only === 'queries') await (await import('./queries.ts')).benchQueries();
if (!only || only === 'graphile') await benchGraphile();
if (!only || only === 'startup') await benchStartup();
if (!only || only === 'memory') await benchMemory();
if (!only || only === 'scaleout') await benchScaleout();
await dropBenchDatabase();
