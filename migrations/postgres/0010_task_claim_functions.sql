-- A worker's claim and a task's outcome as PL/pgSQL functions, whose statements PostgreSQL plans
-- once per server connection and keeps: PgBouncer 1.18 in transaction mode allows only unnamed
-- statements, so the same statements sent as SQL were parsed, rewritten (row-level security) and
-- planned again in every transaction. The claim is the worst case: an UPDATE with the running
-- cap's count and the agent's check in subqueries, joined to the agent for its columns — planning
-- alone ≈ 0.3 ms warm, 0.5 ms under load (pg_stat_statements), more than its execution. Measured
-- (pgbench, one client, extended protocol, a claim and a finish per iteration, PostgreSQL CPU from
-- /proc, alternated): 2.10 ms per iteration as SQL, 1.28 ms through these functions, of which the
-- scope and a lookup common to both took 0.56; a drain of 2,000 queued tasks by one worker:
-- PostgreSQL CPU per task 1.72–2.17 ms as SQL, 0.91–1.44 ms through them.
--
-- SECURITY INVOKER: each statement runs as the caller, under the caller's row-level security and
-- the transaction's scope, exactly as the SQL it replaces (src/tasks/store.cpp, which SQLite runs
-- as SQL). Names are schema-qualified instead of a SET search_path, which would cost a
-- configuration save and restore in every call.

-- queued → running for a message of the task's generation, when the task is due, its
-- organization runs fewer than max_running tasks (max_running <= 0: no cap) and its agent exists;
-- returns the task and its agent (columns in TaskStore's order), or no row. With lock_key, the
-- transaction first takes that advisory lock (the organization's claim lock, the key
-- Tx::lock() hashes): the statement after it starts after the lock is held, so under READ
-- COMMITTED its count sees every claim committed before.
CREATE FUNCTION claim_task(task_id uuid, org uuid, now_at timestamptz, lease_until timestamptz,
                           generation bigint, max_running integer, lock_key text)
  RETURNS TABLE (id uuid, organization_id uuid, agent_id uuid, status text, input jsonb,
                 output jsonb, error text, attempts integer, idempotency_key text, created_by uuid,
                 created_at timestamptz, started_at timestamptz, finished_at timestamptz,
                 queue_generation bigint, agent_id_ uuid, agent_organization_id uuid, name text,
                 description text, executor text, model text, instructions text, config jsonb,
                 agent_created_by uuid, agent_created_at timestamptz, updated_at timestamptz)
  LANGUAGE plpgsql SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
  -- The claim's COMMIT does not wait for its WAL to reach the disk. With synchronous_commit on
  -- (a production server), a COMMIT returns, and releases the transaction's locks, only after
  -- its WAL is flushed: the organization's lock was held across a flush, and the organization's
  -- claims queued behind each other's flushes (fdatasync ≈ 3.5 ms on the test VM; drain of 2,000
  -- tasks with fsync and synchronous_commit on: 4.4 ms per claim_task call, 1.1 ms with them
  -- off). Nothing depends on a claim surviving a crash of the server: a lost claim leaves its
  -- task queued, as if never claimed, the worker's outcome then finds it not running and writes
  -- nothing, and the task runs again (at least once, as after a worker's crash). The outcome
  -- commits synchronously, which flushes the claim's earlier WAL first.
  PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
  IF lock_key IS NOT NULL THEN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(lock_key, 0));
  END IF;
  RETURN QUERY
    WITH t AS (
      UPDATE public.tasks SET status = 'running', attempts = tasks.attempts + 1,
                              started_at = now_at, lease_expires_at = lease_until
      WHERE tasks.id = task_id AND tasks.organization_id = org AND tasks.status = 'queued'
        AND tasks.queue_generation = generation AND tasks.available_at <= now_at
        AND (max_running <= 0
             OR (SELECT COUNT(*) FROM public.tasks r
                 WHERE r.organization_id = org AND r.status = 'running') < max_running)
        AND EXISTS (SELECT 1 FROM public.agents a
                    WHERE a.organization_id = org AND a.id = tasks.agent_id)
      RETURNING tasks.id, tasks.organization_id, tasks.agent_id, tasks.status, tasks.input,
                tasks.output, tasks.error, tasks.attempts, tasks.idempotency_key,
                tasks.created_by, tasks.created_at, tasks.started_at, tasks.finished_at,
                tasks.queue_generation)
    SELECT t.id, t.organization_id, t.agent_id, t.status, t.input, t.output, t.error, t.attempts,
           t.idempotency_key, t.created_by, t.created_at, t.started_at, t.finished_at,
           t.queue_generation, a.id, a.organization_id, a.name, a.description, a.executor,
           a.model, a.instructions, a.config, a.created_by, a.created_at, a.updated_at
    FROM t JOIN public.agents a ON a.organization_id = t.organization_id AND a.id = t.agent_id;
END
$$;

-- running → new_status (succeeded, failed) for the claim of `attempt`; returns the task, or no
-- row when that claim no longer holds it.
CREATE FUNCTION finish_task(task_id uuid, org uuid, attempt integer, new_status text,
                            new_output jsonb, new_error text, now_at timestamptz)
  RETURNS TABLE (id uuid, organization_id uuid, agent_id uuid, status text, input jsonb,
                 output jsonb, error text, attempts integer, idempotency_key text, created_by uuid,
                 created_at timestamptz, started_at timestamptz, finished_at timestamptz,
                 queue_generation bigint)
  LANGUAGE plpgsql SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    UPDATE public.tasks SET status = new_status, output = new_output, error = new_error,
                            finished_at = now_at, lease_expires_at = NULL
    WHERE tasks.id = task_id AND tasks.organization_id = org AND tasks.status = 'running'
      AND tasks.attempts = attempt
    RETURNING tasks.id, tasks.organization_id, tasks.agent_id, tasks.status, tasks.input,
              tasks.output, tasks.error, tasks.attempts, tasks.idempotency_key, tasks.created_by,
              tasks.created_at, tasks.started_at, tasks.finished_at, tasks.queue_generation;
END
$$;

-- finish_task() for a batch of one organization's outcomes (the worker's group commit): element
-- i of each array is one claim's; returns the tasks still held by their claim, now finished.
CREATE FUNCTION finish_tasks(org uuid, now_at timestamptz, task_ids uuid[], attempt_list integer[],
                             status_list text[], output_list jsonb[], error_list text[])
  RETURNS TABLE (id uuid, organization_id uuid, agent_id uuid, status text, input jsonb,
                 output jsonb, error text, attempts integer, idempotency_key text, created_by uuid,
                 created_at timestamptz, started_at timestamptz, finished_at timestamptz,
                 queue_generation bigint)
  LANGUAGE plpgsql SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    UPDATE public.tasks SET status = f.f_status, output = f.f_output, error = f.f_error,
                            finished_at = now_at, lease_expires_at = NULL
    FROM unnest(task_ids, attempt_list, status_list, output_list, error_list)
      AS f(f_id, f_attempts, f_status, f_output, f_error)
    WHERE tasks.id = f.f_id AND tasks.organization_id = org AND tasks.status = 'running'
      AND tasks.attempts = f.f_attempts
    RETURNING tasks.id, tasks.organization_id, tasks.agent_id, tasks.status, tasks.input,
              tasks.output, tasks.error, tasks.attempts, tasks.idempotency_key, tasks.created_by,
              tasks.created_at, tasks.started_at, tasks.finished_at, tasks.queue_generation;
END
$$;

REVOKE ALL ON FUNCTION
  claim_task(uuid, uuid, timestamptz, timestamptz, bigint, integer, text),
  finish_task(uuid, uuid, integer, text, jsonb, text, timestamptz),
  finish_tasks(uuid, timestamptz, uuid[], integer[], text[], jsonb[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  claim_task(uuid, uuid, timestamptz, timestamptz, bigint, integer, text),
  finish_task(uuid, uuid, integer, text, jsonb, text, timestamptz),
  finish_tasks(uuid, timestamptz, uuid[], integer[], text[], jsonb[], text[]) TO atrium_app;
