-- One case transition as the engine sends it since the wire change (src/db/wire.ts), for
-- POST /api/cases/:id/events, a 入户调查 → 初审 step (close one task, open one with its three
-- escalation timers): the same statements in the same three round trips —
--   1. the bearer session (src/http/auth.ts), looked up on every request;
--   2. BEGIN, the case lock and the live tasks, one simple query;
--   3. the writes as one statement of data-modifying CTEs with the version check inside it
--      (ow_expect, migration 020), and COMMIT, one simple query.
-- Run with -M simple: the engine sends 2 and 3 as simple queries with literal values (the session
-- query goes extended, slightly dearer than here). \; joins statements into one query;
-- \aset keeps the columns of every statement of it. The engine makes the new task's id in Node,
-- pgbench takes it from the lock statement (gen_random_uuid()).
-- Variables: ncases (cases in bench_ceiling_cases), token (a session's token_hash), actor (a user id).
\set n random(1, :ncases)
select users.id, users.display_name, users.region_code, users.department, users.roles from sessions join users on users.id = sessions.user_id where sessions.token_hash = ':token' and sessions.expires_at > now() and users.disabled_at is null limit 1;
begin \;
select *, id as c_id, version as c_version, state_value as c_state_value, snapshot as c_snapshot, chain_head as c_chain_head, gen_random_uuid() as c_new_task from cases where id = (select id from bench_ceiling_cases where n = :n) limit 1 for no key update \;
-- The engine reads every live task; these cases hold one.
select *, id as t_id, actions as t_actions, department as t_department, procedure_id as t_procedure_id, region_code as t_region_code, role as t_role, state_id as t_state_id, time_limit as t_time_limit, title as t_title
  from tasks where case_id = (select id from bench_ceiling_cases where n = :n) and status in ('open', 'claimed') order by opened_at asc \aset
\set nv :c_version + 1
with w0 as (update "cases" set "status" = 'running', "state_value" = ':c_state_value', "snapshot" = ':c_snapshot', "version" = :nv, "updated_at" = now(), "chain_head" = ':c_chain_head' where "id" = ':c_id' and "version" = :c_version returning "id"),
w1 as (insert into "case_events" ("actor_id", "actor_name", "case_id", "from_state", "hash", "occurred_at", "payload", "prev_hash", "seq", "to_state", "type")
  values (':actor', '乡镇经办人', ':c_id', ':c_state_value', ':c_chain_head', now(), '{"visitors":["甲","乙"],"findings":"属实"}', ':c_chain_head', :nv, ':c_state_value', 'HOME_VISIT_COMPLETED') returning "id"),
w2 as (update "tasks" set "status" = 'completed', "closed_at" = now(), "closed_by" = ':actor', "outcome" = 'HOME_VISIT_COMPLETED' where "id" = ':t_id'),
w3 as (update "timers" set "status" = 'cancelled' where "task_id" in (':t_id') and "status" = 'pending'),
w4 as (insert into "tasks" ("actions", "assignee_id", "case_id", "closed_at", "closed_by", "deadline_note", "deadline_provisional", "department", "due_at", "escalated_at", "escalation", "id", "opened_at", "outcome", "procedure_id", "red_at", "region_code", "role", "state_id", "status", "time_limit", "title", "warn_at")
  values (':t_actions', null, ':c_id', null, null, null, false, ':t_department', now() + interval '14 days', null, 'none', ':c_new_task', now(), null, ':t_procedure_id', now() + interval '17 days', ':t_region_code', ':t_role', ':t_state_id', 'open', ':t_time_limit', ':t_title', now() + interval '10 days')),
w5 as (insert into "timers" ("case_id", "created_at", "due_at", "event_type", "kind", "state_id", "task_id")
  values (':c_id', now(), now() + interval '10 days', 'DEADLINE_WARNING', 'warn', ':t_state_id', ':c_new_task'),
         (':c_id', now(), now() + interval '14 days', 'DEADLINE_OVERDUE', 'overdue', ':t_state_id', ':c_new_task'),
         (':c_id', now(), now() + interval '17 days', 'DEADLINE_RED', 'red', ':t_state_id', ':c_new_task'))
select ow_expect((select count(*) from w0) = 1, 'VERSION_CONFLICT') as saved, (select id from w1) as event_id \;
commit;
