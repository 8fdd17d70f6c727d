-- Atrium schema (DESIGN.md §5) for PostgreSQL 15: the tables and columns of
-- migrations/sqlite/0001_init.sql in PostgreSQL types, and row-level security on every tenant
-- table as a second wall behind the stores' own organization_id filters (docs/POSTGRESQL.md).
--
-- Runs as the role that owns the schema. The application connects as a member of atrium_app,
-- which owns nothing, does not bypass row-level security and has only the grants below.
-- Ids are uuid, times timestamptz, JSON jsonb; emails citext (compared case-insensitively, as
-- SQLite's COLLATE NOCASE does).

CREATE EXTENSION IF NOT EXISTS citext;

-- The application's group role; its login roles are made members of it (docs/POSTGRESQL.md).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'atrium_app') THEN
    BEGIN
      CREATE ROLE atrium_app NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile
      WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role atrium_app does not exist and % may not create it', current_user
          USING HINT = 'CREATE ROLE atrium_app NOLOGIN; as a superuser, or grant CREATEROLE '
                       'to the role that migrates (docs/POSTGRESQL.md)';
    END;
  END IF;
END
$$;

-- Nobody but the owner creates objects in the schema (PostgreSQL 15's default, made explicit
-- for databases created from an older template).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE TABLE organizations (
  id          uuid PRIMARY KEY,
  name        text NOT NULL,
  slug        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE users (
  id             uuid PRIMARY KEY,
  email          citext NOT NULL UNIQUE,
  name           text NOT NULL DEFAULT '',
  password_hash  text,
  disabled       boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);

CREATE TABLE permissions (
  id           uuid PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  description  text NOT NULL DEFAULT ''
);

-- organization_id NULL = a system role, shared by every organization.
CREATE TABLE roles (
  id               uuid PRIMARY KEY,
  organization_id  uuid REFERENCES organizations (id) ON DELETE CASCADE,
  name             text NOT NULL,
  description      text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  CONSTRAINT roles_org_name UNIQUE NULLS NOT DISTINCT (organization_id, name)
);

CREATE TABLE role_permissions (
  role_id        uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  permission_id  uuid NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX role_permissions_permission ON role_permissions (permission_id);

-- organization_id NULL = a global role (SUPER_ADMIN).
CREATE TABLE user_organization_roles (
  id               uuid PRIMARY KEY,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id  uuid REFERENCES organizations (id) ON DELETE CASCADE,
  role_id          uuid NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
  created_at       timestamptz NOT NULL,
  CONSTRAINT user_org_roles_unique UNIQUE NULLS NOT DISTINCT (user_id, organization_id, role_id)
);
CREATE INDEX user_org_roles_org ON user_organization_roles (organization_id, user_id);
CREATE INDEX user_org_roles_role ON user_organization_roles (role_id);
CREATE INDEX user_org_roles_user ON user_organization_roles (user_id);

-- A foreign key is checked without row-level security, so it cannot stop a membership or an
-- invitation in one organization from naming another organization's custom role: this does.
-- It reads roles as the writer, and a writer sees only system roles and its tenant's roles.
CREATE FUNCTION role_of_same_organization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM roles r WHERE r.id = NEW.role_id
                 AND (r.organization_id IS NULL OR r.organization_id = NEW.organization_id)) THEN
    RAISE EXCEPTION 'the role is not a system role nor a role of the organization'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER user_org_roles_same_org BEFORE INSERT OR UPDATE OF role_id, organization_id
  ON user_organization_roles FOR EACH ROW EXECUTE FUNCTION role_of_same_organization();

CREATE TABLE refresh_tokens (
  id               uuid PRIMARY KEY,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id  uuid REFERENCES organizations (id) ON DELETE CASCADE,
  family_id        uuid NOT NULL,
  token_hash       text NOT NULL UNIQUE,
  expires_at       timestamptz NOT NULL,
  revoked_at       timestamptz,
  replaced_by      uuid,
  created_at       timestamptz NOT NULL,
  ip               text,
  user_agent       text
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
  id               uuid PRIMARY KEY,
  organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name             text NOT NULL,
  prefix           text NOT NULL,
  key_hash         text NOT NULL UNIQUE,
  permissions      jsonb NOT NULL DEFAULT '[]',
  created_by       uuid,
  created_at       timestamptz NOT NULL,
  last_used_at     timestamptz,
  expires_at       timestamptz,
  revoked_at       timestamptz
);
CREATE INDEX api_keys_org ON api_keys (organization_id, id);

CREATE TABLE invitations (
  id               uuid PRIMARY KEY,
  organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email            citext NOT NULL,
  role_id          uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  token_hash       text NOT NULL UNIQUE,
  invited_by       uuid,
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  accepted_at      timestamptz
);
CREATE INDEX invitations_org ON invitations (organization_id, id);
CREATE TRIGGER invitations_same_org BEFORE INSERT OR UPDATE OF role_id, organization_id
  ON invitations FOR EACH ROW EXECUTE FUNCTION role_of_same_organization();

CREATE TABLE agents (
  id               uuid PRIMARY KEY,
  organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name             text NOT NULL,
  description      text NOT NULL DEFAULT '',
  executor         text NOT NULL,
  model            text NOT NULL DEFAULT '',
  instructions     text NOT NULL DEFAULT '',
  config           jsonb NOT NULL DEFAULT '{}',
  created_by       uuid,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  -- Lets tasks reference (organization_id, id): a task cannot point at another tenant's agent.
  CONSTRAINT agents_org UNIQUE (organization_id, id)
);

CREATE TABLE tasks (
  id               uuid PRIMARY KEY,
  organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  agent_id         uuid NOT NULL,
  status           text NOT NULL
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  input            jsonb NOT NULL DEFAULT '{}',
  output           jsonb,
  error            text,
  attempts         integer NOT NULL DEFAULT 0,
  idempotency_key  text,
  created_by       uuid,
  created_at       timestamptz NOT NULL,
  started_at       timestamptz,
  finished_at      timestamptz,
  FOREIGN KEY (organization_id, agent_id) REFERENCES agents (organization_id, id)
    ON DELETE CASCADE
);
CREATE UNIQUE INDEX tasks_idempotency ON tasks (organization_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_org ON tasks (organization_id, id);
CREATE INDEX tasks_org_agent ON tasks (organization_id, agent_id, id);
CREATE INDEX tasks_status ON tasks (status, id);

CREATE TABLE outbox (
  id            uuid PRIMARY KEY,
  topic         text NOT NULL,
  payload       text NOT NULL,
  created_at    timestamptz NOT NULL,
  published_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Append-only: no foreign key, so entries outlive a deleted organization; the application may
-- only read and insert, and a trigger refuses edits by anyone. actor_id and target_id are text:
-- a target may be named rather than identified (a secret's name).
CREATE TABLE audit_log (
  id               uuid PRIMARY KEY,
  organization_id  uuid,
  actor_type       text NOT NULL,
  actor_id         text,
  action           text NOT NULL,
  target_type      text,
  target_id        text,
  ip               text,
  user_agent       text,
  request_id       text,
  details          jsonb NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (organization_id, id);
CREATE INDEX audit_log_org_action ON audit_log (organization_id, action, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE org_secrets (
  organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name             text NOT NULL,
  ciphertext       text NOT NULL,
  nonce            text NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (organization_id, name)
);

-- ---------------------------------------------------------------- row-level security
--
-- The driver sets, per transaction (set_config(…, true)), the scope of TxOptions:
--   app.org_id             the tenant ('' = none)
--   app.user_id            the signed-in user ('' = none)
--   app.cross_tenant_read  'on' for an audited cross-tenant read (read-only transactions only)
-- A setting only ever set transaction-locally reads '' afterwards, never NULL: hence nullif.
--
-- Policies read them as scalar subqueries,
--   (SELECT nullif(current_setting('app.org_id', true), '')::uuid)
-- evaluated once per statement (an InitPlan), not per row; estimated so that the planner keeps
-- the plan it would choose without row-level security (an index scan on (organization_id, id)
-- for a page of a tenant's rows, not a scan of all of them and a sort); and written out rather
-- than wrapped in SQL functions, whose inlining would be paid again in every statement's
-- planning (docs/BENCHMARKS.md).

-- Tenant-owned tables: a transaction reads and writes its tenant's rows only; an audited
-- cross-tenant read also reads every tenant's rows, and writes nothing.
ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE agents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON agents
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY cross_tenant_read ON agents FOR SELECT
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON tasks
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY cross_tenant_read ON tasks FOR SELECT
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON api_keys
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY cross_tenant_read ON api_keys FOR SELECT
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON invitations
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY cross_tenant_read ON invitations FOR SELECT
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on'));

-- Secrets: never readable across tenants, not even by a super admin.
ALTER TABLE org_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON org_secrets
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));

-- Members: a tenant's memberships, the global ones (NULL: a super admin's, needed to compute
-- anyone's permissions), and the signed-in user's own in every organization are readable; a
-- transaction writes its tenant's memberships only. Global memberships are written by the owner
-- (the admin commands run with the migration URL).
ALTER TABLE user_organization_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_organization_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON user_organization_roles
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY global_and_own_read ON user_organization_roles FOR SELECT
  USING (organization_id IS NULL
         OR user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
         OR (SELECT current_setting('app.cross_tenant_read', true) = 'on'));
CREATE POLICY global_rows_by_owner ON user_organization_roles TO CURRENT_USER
  USING (organization_id IS NULL) WITH CHECK (organization_id IS NULL);

-- Organizations: the tenant's own row, those the signed-in user belongs to, every one for an
-- audited cross-tenant read. Creating one is done with the new organization as the tenant.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON organizations
  USING (id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY member_or_cross_tenant_read ON organizations FOR SELECT
  USING ((SELECT current_setting('app.cross_tenant_read', true) = 'on')
         OR id IN (SELECT m.organization_id FROM user_organization_roles m
                   WHERE m.user_id =
                         (SELECT nullif(current_setting('app.user_id', true), '')::uuid)));

-- Roles: system roles (NULL) are readable by all and written only by the owner (the seed);
-- custom roles belong to their tenant; the signed-in user reads the roles they hold anywhere.
ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON roles
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
CREATE POLICY system_held_or_cross_tenant_read ON roles FOR SELECT
  USING (organization_id IS NULL
         OR (SELECT current_setting('app.cross_tenant_read', true) = 'on')
         OR id IN (SELECT m.role_id FROM user_organization_roles m
                   WHERE m.user_id =
                         (SELECT nullif(current_setting('app.user_id', true), '')::uuid)));
CREATE POLICY system_rows_by_owner ON roles TO CURRENT_USER
  USING (organization_id IS NULL) WITH CHECK (organization_id IS NULL);

-- A role's grants follow the role: readable when the role is, written with the role's tenant
-- (the subqueries see roles through roles' own policies).
ALTER TABLE role_permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON role_permissions
  USING (role_id IN (
    SELECT r.id FROM roles r
    WHERE r.organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid)))
  WITH CHECK (role_id IN (
    SELECT r.id FROM roles r
    WHERE r.organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid)));
CREATE POLICY visible_role_read ON role_permissions FOR SELECT
  USING (role_id IN (SELECT r.id FROM roles r));
CREATE POLICY system_rows_by_owner ON role_permissions TO CURRENT_USER
  USING (role_id IN (SELECT r.id FROM roles r WHERE r.organization_id IS NULL))
  WITH CHECK (role_id IN (SELECT r.id FROM roles r WHERE r.organization_id IS NULL));

-- The audit log: a tenant reads its entries, a cross-tenant read every entry (the global ones
-- too); entries are inserted for the transaction's tenant, or without one when it has none.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON audit_log FOR SELECT
  USING (organization_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid)
         OR (SELECT current_setting('app.cross_tenant_read', true) = 'on'));
CREATE POLICY scoped_insert ON audit_log FOR INSERT
  WITH CHECK (organization_id IS NOT DISTINCT FROM
              (SELECT nullif(current_setting('app.org_id', true), '')::uuid));

-- Lookups before the tenant is known: an API key at authentication, an invitation at its
-- acceptance, each found by the hash of a secret its holder presents. The application cannot
-- see the row until it knows the organization, so each lookup is a SECURITY DEFINER function,
-- owned by this role, that returns that one row's organization and nothing else; the caller
-- then scopes its transaction to it and reads the row through the policies above. Inside the
-- function app.pre_tenant_lookup names the lookup (set for its one SELECT, cleared before it
-- returns), and only the owner's policies below honour it: the application setting it itself
-- sees nothing more.
CREATE POLICY pre_tenant_lookup ON api_keys FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.pre_tenant_lookup', true) = 'api_key'));
CREATE POLICY pre_tenant_lookup ON invitations FOR SELECT TO CURRENT_USER
  USING ((SELECT current_setting('app.pre_tenant_lookup', true) = 'invitation'));

CREATE FUNCTION api_key_organization(key_hash text) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  org uuid;
BEGIN
  PERFORM set_config('app.pre_tenant_lookup', 'api_key', true);
  SELECT k.organization_id INTO org FROM public.api_keys k
  WHERE k.key_hash = api_key_organization.key_hash;
  PERFORM set_config('app.pre_tenant_lookup', '', true);
  RETURN org;
END
$$;
CREATE FUNCTION invitation_organization(token_hash text) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  org uuid;
BEGIN
  PERFORM set_config('app.pre_tenant_lookup', 'invitation', true);
  SELECT i.organization_id INTO org FROM public.invitations i
  WHERE i.token_hash = invitation_organization.token_hash;
  PERFORM set_config('app.pre_tenant_lookup', '', true);
  RETURN org;
END
$$;
REVOKE ALL ON FUNCTION api_key_organization(text), invitation_organization(text) FROM PUBLIC;

-- Not tenant tables, so without row-level security: users (one identity across organizations),
-- permissions (the global catalog), refresh_tokens (a user's sessions, found by token hash before
-- any tenant is known), outbox (the relay publishes every tenant's events), schema_migrations.

-- ---------------------------------------------------------------- the application's grants

GRANT USAGE ON SCHEMA public TO atrium_app;
GRANT SELECT ON schema_migrations, permissions TO atrium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  organizations, users, roles, role_permissions, user_organization_roles, refresh_tokens,
  api_keys, invitations, agents, tasks, outbox, org_secrets
  TO atrium_app;
GRANT SELECT, INSERT ON audit_log TO atrium_app;
GRANT EXECUTE ON FUNCTION api_key_organization(text), invitation_organization(text)
  TO atrium_app;
