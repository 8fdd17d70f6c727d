-- The lost-message sweep (TaskStore::republish_stale) reads only the queued tasks due before its
-- cutoff, oldest first, in a bounded batch, as migrations/sqlite/0007 lets SQLite: not every
-- queued task of every tenant.
CREATE INDEX tasks_queued_due ON tasks (available_at) WHERE status = 'queued';

CREATE FUNCTION stale_queued_tasks(cutoff timestamptz, max_rows bigint)
  RETURNS TABLE (id uuid, organization_id uuid)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.cross_tenant_read', 'on', true);
  RETURN QUERY
    SELECT t.id, t.organization_id FROM public.tasks t
    WHERE t.status = 'queued' AND t.available_at < cutoff
    ORDER BY t.available_at LIMIT max_rows;
  PERFORM set_config('app.cross_tenant_read', '', true);
END
$$;
REVOKE ALL ON FUNCTION stale_queued_tasks(timestamptz, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stale_queued_tasks(timestamptz, bigint) TO atrium_app;
