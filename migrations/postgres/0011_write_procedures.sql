-- The statements every write sends, as PL/pgSQL procedures whose statements PostgreSQL plans once
-- per server connection and keeps (PgBouncer 1.18 in transaction mode allows only unnamed
-- statements, so the same statements sent as SQL were parsed, rewritten — row-level security —
-- and planned again in every transaction; 0010 did the same for the worker's claim and outcome):
--  - set_scope(): the scope every transaction sets first (src/db/postgres: the tenant for
--    row-level security, the statement and idle timeouts, DateStyle and TimeZone);
--  - insert_outbox_row(), insert_audit_entry(), insert_task(): the rows the generic writers add
--    (broker::add_to_outbox, audit::record) and a new task (tasks::TaskStore::create), which on
--    SQLite stay the INSERTs they replace.
-- Called with CALL, a utility statement that the server analyses but does not plan. Measured
-- (pgbench, 4 clients, extended protocol, one pipeline per transaction as the driver sends it:
-- BEGIN, scope, outbox row, audit entry, task, COMMIT; PostgreSQL CPU from /proc, alternated):
-- 0.46–0.49 ms per transaction as SQL, 0.35–0.38 ms through these procedures.
--
-- SECURITY INVOKER: each statement runs as the caller, under the caller's row-level security
-- and the transaction's scope, exactly as the SQL it replaces: the tasks and audit_log policies'
-- WITH CHECK refuse a row of another tenant, the task's insert trigger (0009) checks its agent,
-- a duplicate key is the same unique violation. Names inside are schema-qualified instead of a
-- SET search_path, which would cost a configuration save and restore in every call.

-- Every scope variable is set, also when empty, so that a session-level SET left on a shared
-- server connection cannot widen the transaction's view; idle_timeout NULL leaves
-- idle_in_transaction_session_timeout as it is (a connection without a statement timeout).
-- Separate PERFORMs: each one is a simple expression, evaluated without the executor.
CREATE PROCEDURE set_scope(tenant text, user_id text, cross_tenant_read text,
                           statement_timeout text, idle_timeout text)
  LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
  PERFORM pg_catalog.set_config('app.org_id', tenant, true);
  PERFORM pg_catalog.set_config('app.user_id', user_id, true);
  PERFORM pg_catalog.set_config('app.cross_tenant_read', cross_tenant_read, true);
  PERFORM pg_catalog.set_config('statement_timeout', statement_timeout, true);
  IF idle_timeout IS NOT NULL THEN
    PERFORM pg_catalog.set_config('idle_in_transaction_session_timeout', idle_timeout, true);
  END IF;
  PERFORM pg_catalog.set_config('DateStyle', 'ISO', true);
  PERFORM pg_catalog.set_config('TimeZone', 'UTC', true);
END
$$;

CREATE PROCEDURE insert_outbox_row(id uuid, topic text, tenant text, payload text,
                                   created_at timestamptz, available_at timestamptz)
  LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
  INSERT INTO public.outbox (id, topic, tenant, payload, created_at, available_at)
  VALUES (id, topic, tenant, payload, created_at, available_at);
END
$$;

CREATE PROCEDURE insert_audit_entry(id uuid, organization_id uuid, actor_type text,
                                    actor_id text, action text, target_type text,
                                    target_id text, ip text, user_agent text, request_id text,
                                    details jsonb, created_at timestamptz)
  LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
  INSERT INTO public.audit_log (id, organization_id, actor_type, actor_id, action, target_type,
                                target_id, ip, user_agent, request_id, details, created_at)
  VALUES (id, organization_id, actor_type, actor_id, action, target_type, target_id, ip,
          user_agent, request_id, details, created_at);
END
$$;

-- A new task, queued, due at its creation.
CREATE PROCEDURE insert_task(id uuid, organization_id uuid, agent_id uuid, input jsonb,
                             idempotency_key text, created_by uuid, created_at timestamptz)
  LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
  INSERT INTO public.tasks (id, organization_id, agent_id, status, input, attempts,
                            idempotency_key, created_by, created_at, available_at)
  VALUES (id, organization_id, agent_id, 'queued', input, 0, idempotency_key, created_by,
          created_at, created_at);
END
$$;

REVOKE ALL ON PROCEDURE
  set_scope(text, text, text, text, text),
  insert_outbox_row(uuid, text, text, text, timestamptz, timestamptz),
  insert_audit_entry(uuid, uuid, text, text, text, text, text, text, text, text, jsonb,
                     timestamptz),
  insert_task(uuid, uuid, uuid, jsonb, text, uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE
  set_scope(text, text, text, text, text),
  insert_outbox_row(uuid, text, text, text, timestamptz, timestamptz),
  insert_audit_entry(uuid, uuid, text, text, text, text, text, text, text, text, jsonb,
                     timestamptz),
  insert_task(uuid, uuid, uuid, jsonb, text, uuid, timestamptz) TO atrium_app;
