/**
 * The least a Node HTTP service can do for one transition on this machine: node:http and pg, no
 * framework, no engine, no knex, no validation — bench/pgbench/transition.sql's three round
 * trips (session; BEGIN + lock + live tasks; the writes as one statement + COMMIT) for
 * `POST /cases/<n>`, answering a small JSON. Plain JavaScript, run by `node` itself.
 *
 * It is not the ceiling (that is pgbench, C, no HTTP): it splits the gap between the service and
 * pgbench into what any Node service pays here (an HTTP hop, JavaScript, the pg driver) and what
 * OneWindow's own code adds. bench/transitions.ts drives it with the same load generator.
 *
 * Env: DATABASE_URL, PORT, POOL (connections), TOKEN_HASH, ACTOR (as for the pgbench script).
 */
import http from 'node:http';
import pg from 'pg';
import utils from 'pg/lib/utils.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL ?? 8) });
// As the engine inlines values (src/db/wire.ts): what pg would send as an untyped parameter, quoted.
const lit = (v) => (v === null || v === undefined ? 'NULL' : pg.Client.prototype.escapeLiteral(utils.prepareValue(v)));
// jsonb columns: the engine stringifies them (a string state value is JSON too).
const json = (v) => pg.Client.prototype.escapeLiteral(JSON.stringify(v));

async function transition(n, body) {
  const c = await pool.connect();
  try {
    // Simple-protocol queries (no parameters), as the engine and the pgbench script send them.
    const s = await c.query(
      `select users.id, users.display_name, users.region_code, users.department, users.roles from sessions join users on users.id = sessions.user_id where sessions.token_hash = ${lit(process.env.TOKEN_HASH)} and sessions.expires_at > now() and users.disabled_at is null limit 1`,
    );
    if (!s.rows.length) return 401;
    const [, lock, live] = await c.query(
      `begin; select *, gen_random_uuid() as new_task from cases where id = (select id from bench_ceiling_cases where n = ${n}) limit 1 for no key update; ` +
        `select * from tasks where case_id = (select id from bench_ceiling_cases where n = ${n}) and status in ('open', 'claimed') order by opened_at asc`,
    );
    const k = lock.rows[0];
    const t = live.rows[0];
    const v = k.version + 1;
    const actor = lit(process.env.ACTOR);
    await c.query(
      `with w0 as (update "cases" set "status" = 'running', "state_value" = ${json(k.state_value)}, "snapshot" = ${json(k.snapshot)}, "version" = ${v}, "updated_at" = now(), "chain_head" = ${lit(k.chain_head)} where "id" = ${lit(k.id)} and "version" = ${k.version} returning "id"),
w1 as (insert into "case_events" ("actor_id", "actor_name", "case_id", "from_state", "hash", "occurred_at", "payload", "prev_hash", "seq", "to_state", "type")
  values (${actor}, '乡镇经办人', ${lit(k.id)}, ${json(k.state_value)}, ${lit(k.chain_head)}, now(), ${json(body.data ?? {})}, ${lit(k.chain_head)}, ${v}, ${json(k.state_value)}, ${lit(body.type)}) returning "id"),
w2 as (update "tasks" set "status" = 'completed', "closed_at" = now(), "closed_by" = ${actor}, "outcome" = ${lit(body.type)} where "id" = ${lit(t.id)}),
w3 as (update "timers" set "status" = 'cancelled' where "task_id" in (${lit(t.id)}) and "status" = 'pending'),
w4 as (insert into "tasks" ("actions", "assignee_id", "case_id", "closed_at", "closed_by", "deadline_note", "deadline_provisional", "department", "due_at", "escalated_at", "escalation", "id", "opened_at", "outcome", "procedure_id", "red_at", "region_code", "role", "state_id", "status", "time_limit", "title", "warn_at")
  values (${lit(t.actions)}, null, ${lit(k.id)}, null, null, null, false, ${lit(t.department)}, now() + interval '14 days', null, 'none', ${lit(k.new_task)}, now(), null, ${lit(t.procedure_id)}, now() + interval '17 days', ${lit(t.region_code)}, ${lit(t.role)}, ${lit(t.state_id)}, 'open', ${json(t.time_limit)}, ${lit(t.title)}, now() + interval '10 days')),
w5 as (insert into "timers" ("case_id", "created_at", "due_at", "event_type", "kind", "state_id", "task_id")
  values (${lit(k.id)}, now(), now() + interval '10 days', 'DEADLINE_WARNING', 'warn', ${lit(t.state_id)}, ${lit(k.new_task)}),
         (${lit(k.id)}, now(), now() + interval '14 days', 'DEADLINE_OVERDUE', 'overdue', ${lit(t.state_id)}, ${lit(k.new_task)}),
         (${lit(k.id)}, now(), now() + interval '17 days', 'DEADLINE_RED', 'red', ${lit(t.state_id)}, ${lit(k.new_task)}))
select ow_expect((select count(*) from w0) = 1, 'VERSION_CONFLICT') as saved, (select id from w1) as event_id; commit`,
    );
    return 200;
  } catch (err) {
    await c.query('rollback').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const n = Number(/^\/cases\/(\d+)$/.exec(req.url ?? '')?.[1]);
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = {};
    }
    transition(n, body).then(
      (status) => {
        const out = JSON.stringify({ ok: status === 200, n });
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
      },
      (err) => {
        if (!server.reported) console.error('bare-node:', err?.message ?? err);
        server.reported = true;
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err?.message ?? err));
      },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 3990), '127.0.0.1', () => process.send?.('listening'));
