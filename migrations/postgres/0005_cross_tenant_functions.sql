-- Cross-tenant reads without a switch the application holds (docs/POSTGRESQL.md).
--
-- Until now the read policies honoured app.cross_tenant_read for every role: the application
-- role could widen its own view by setting that variable, so row-level security only held
-- against code that did not try. From here on only the owner's policies honour it (the owner's
-- admin commands and tests), and the application reads across tenants through the SECURITY
-- DEFINER functions below, owned by this role, each returning a few columns for one purpose:
--
--   cross_tenant_organizations(reader, after, max_rows)  a global super admin's GET /api/orgs
--   cross_tenant_organization(reader, org)               a global super admin's GET /api/orgs/{id}
--   tasks_with_expired_leases(now, max_rows)             the workers' lease recovery
--   queued_tasks(after, max_rows)                        requeueing at start
--   active_task_counts()                                 the tasks gauge of /metrics
--
-- The two organization functions answer only for a reader who holds `*` through a global role
-- and is not disabled; anyone else gets no rows. Each function sets app.cross_tenant_read around
-- its one query and clears it before returning, as the pre-tenant lookups of 0001 do.

-- ---------------------------------------------------------------- the policies, owner-only

DROP POLICY cross_tenant_read ON agents;
CREATE POLICY cross_tenant_read ON agents FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

DROP POLICY cross_tenant_read ON tasks;
CREATE POLICY cross_tenant_read ON tasks FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

DROP POLICY cross_tenant_read ON api_keys;
CREATE POLICY cross_tenant_read ON api_keys FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

DROP POLICY cross_tenant_read ON invitations;
CREATE POLICY cross_tenant_read ON invitations FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

DROP POLICY global_and_own_read ON user_organization_roles;
CREATE POLICY global_and_own_read ON user_organization_roles FOR SELECT
  USING (organization_id IS NULL
         OR user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY cross_tenant_read ON user_organization_roles FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

DROP POLICY member_or_cross_tenant_read ON organizations;
CREATE POLICY member_read ON organizations FOR SELECT
  USING (id IN (SELECT m.organization_id FROM user_organization_roles m
                WHERE m.user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)));
CREATE POLICY cross_tenant_read ON organizations FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

DROP POLICY system_held_or_cross_tenant_read ON roles;
CREATE POLICY system_or_held_read ON roles FOR SELECT
  USING (organization_id IS NULL
         OR id IN (SELECT m.role_id FROM user_organization_roles m
                   WHERE m.user_id =
                         (SELECT nullif(current_setting('app.user_id', true), '')::uuid)));
CREATE POLICY cross_tenant_read ON roles FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

DROP POLICY tenant_read ON audit_log;
CREATE POLICY tenant_read ON audit_log FOR SELECT
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY cross_tenant_read ON audit_log FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

-- ---------------------------------------------------------------- the functions

-- True when `reader` is an enabled user holding `*` through a global role. Global memberships,
-- system roles and their grants are readable without any scope.
CREATE FUNCTION holds_global_wildcard(reader uuid) RETURNS boolean
  LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.user_organization_roles m
    JOIN public.users u ON u.id = m.user_id
    JOIN public.role_permissions rp ON rp.role_id = m.role_id
    JOIN public.permissions p ON p.id = rp.permission_id
    WHERE m.user_id = reader AND m.organization_id IS NULL AND NOT u.disabled AND p.name = '*')
$$;

CREATE FUNCTION cross_tenant_organizations(reader uuid, after_id uuid, max_rows bigint)
  RETURNS TABLE (id uuid, name text, slug text, created_at timestamptz, updated_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF reader IS NULL OR NOT holds_global_wildcard(reader) THEN
    RETURN;
  END IF;
  PERFORM set_config('app.cross_tenant_read', 'on', true);
  RETURN QUERY
    SELECT o.id, o.name, o.slug, o.created_at, o.updated_at FROM public.organizations o
    WHERE after_id IS NULL OR o.id > after_id
    ORDER BY o.id LIMIT max_rows;
  PERFORM set_config('app.cross_tenant_read', '', true);
END
$$;

CREATE FUNCTION cross_tenant_organization(reader uuid, org uuid)
  RETURNS TABLE (id uuid, name text, slug text, created_at timestamptz, updated_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF reader IS NULL OR NOT holds_global_wildcard(reader) THEN
    RETURN;
  END IF;
  PERFORM set_config('app.cross_tenant_read', 'on', true);
  RETURN QUERY
    SELECT o.id, o.name, o.slug, o.created_at, o.updated_at FROM public.organizations o
    WHERE o.id = org;
  PERFORM set_config('app.cross_tenant_read', '', true);
END
$$;

CREATE FUNCTION tasks_with_expired_leases(now_at timestamptz, max_rows bigint)
  RETURNS TABLE (id uuid, organization_id uuid)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.cross_tenant_read', 'on', true);
  RETURN QUERY
    SELECT t.id, t.organization_id FROM public.tasks t
    WHERE t.status = 'running' AND t.lease_expires_at < now_at
    ORDER BY t.lease_expires_at LIMIT max_rows;
  PERFORM set_config('app.cross_tenant_read', '', true);
END
$$;

CREATE FUNCTION queued_tasks(after_id uuid, max_rows bigint)
  RETURNS TABLE (id uuid, organization_id uuid, available_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.cross_tenant_read', 'on', true);
  RETURN QUERY
    SELECT t.id, t.organization_id, t.available_at FROM public.tasks t
    WHERE t.status = 'queued' AND (after_id IS NULL OR t.id > after_id)
    ORDER BY t.id LIMIT max_rows;
  PERFORM set_config('app.cross_tenant_read', '', true);
END
$$;

CREATE FUNCTION active_task_counts() RETURNS TABLE (status text, n bigint)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.cross_tenant_read', 'on', true);
  RETURN QUERY
    SELECT t.status, COUNT(*) FROM public.tasks t
    WHERE t.status IN ('queued', 'running') GROUP BY t.status;
  PERFORM set_config('app.cross_tenant_read', '', true);
END
$$;

REVOKE ALL ON FUNCTION holds_global_wildcard(uuid), cross_tenant_organizations(uuid, uuid, bigint),
  cross_tenant_organization(uuid, uuid), tasks_with_expired_leases(timestamptz, bigint),
  queued_tasks(uuid, bigint), active_task_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cross_tenant_organizations(uuid, uuid, bigint),
  cross_tenant_organization(uuid, uuid), tasks_with_expired_leases(timestamptz, bigint),
  queued_tasks(uuid, bigint), active_task_counts() TO atrium_app;
