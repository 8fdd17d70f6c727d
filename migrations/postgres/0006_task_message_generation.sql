-- A generation number for each task's queue message, as migrations/sqlite/0006: every message
-- carries the generation its task had when the message was written, and each change that writes
-- a new message (retry, deferral, recovery, release, a lost message sent again) moves the
-- generation on in the same statement. A delivery whose generation is not the task's is a stale
-- duplicate: the worker acknowledges and drops it instead of deferring it into yet another
-- message. Messages written before this migration carry none and count as generation 0.
ALTER TABLE tasks ADD COLUMN queue_generation bigint NOT NULL DEFAULT 0;

-- Requeueing at start writes each queued task's message with its current generation.
DROP FUNCTION queued_tasks(uuid, bigint);
CREATE FUNCTION queued_tasks(after_id uuid, max_rows bigint)
  RETURNS TABLE (id uuid, organization_id uuid, available_at timestamptz, queue_generation bigint)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.cross_tenant_read', 'on', true);
  RETURN QUERY
    SELECT t.id, t.organization_id, t.available_at, t.queue_generation FROM public.tasks t
    WHERE t.status = 'queued' AND (after_id IS NULL OR t.id > after_id)
    ORDER BY t.id LIMIT max_rows;
  PERFORM set_config('app.cross_tenant_read', '', true);
END
$$;
REVOKE ALL ON FUNCTION queued_tasks(uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION queued_tasks(uuid, bigint) TO atrium_app;
