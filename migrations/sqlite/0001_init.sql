-- Atrium schema (DESIGN.md §5) for the embedded store.
-- Ids are UUIDv7 text; times are RFC 3339 UTC text of fixed width (text order = time order);
-- JSON is text; booleans are 0/1. Every tenant table carries organization_id and is indexed by it
-- first. Emails are stored lower-cased and compared case-insensitively.

CREATE TABLE organizations (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  slug        TEXT NOT NULL UNIQUE,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

CREATE TABLE users (
  id             TEXT PRIMARY KEY,
  email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name           TEXT NOT NULL DEFAULT '',
  password_hash  TEXT,
  disabled       INTEGER NOT NULL DEFAULT 0,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);

CREATE TABLE permissions (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  description  TEXT NOT NULL DEFAULT ''
);

-- organization_id NULL = a system role, shared by every organization.
CREATE TABLE roles (
  id               TEXT PRIMARY KEY,
  organization_id  TEXT REFERENCES organizations (id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  description      TEXT NOT NULL DEFAULT '',
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
-- Unique (organization_id, name) with NULLs not distinct.
CREATE UNIQUE INDEX roles_org_name ON roles (ifnull(organization_id, ''), name);

CREATE TABLE role_permissions (
  role_id        TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  permission_id  TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, permission_id)
);

-- organization_id NULL = a global role (SUPER_ADMIN).
CREATE TABLE user_organization_roles (
  id               TEXT PRIMARY KEY,
  user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id  TEXT REFERENCES organizations (id) ON DELETE CASCADE,
  role_id          TEXT NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
  created_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX user_org_roles_unique
  ON user_organization_roles (user_id, ifnull(organization_id, ''), role_id);
CREATE INDEX user_org_roles_org ON user_organization_roles (organization_id, user_id);
CREATE INDEX user_org_roles_role ON user_organization_roles (role_id);

CREATE TABLE refresh_tokens (
  id               TEXT PRIMARY KEY,
  user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id  TEXT REFERENCES organizations (id) ON DELETE CASCADE,
  family_id        TEXT NOT NULL,
  token_hash       TEXT NOT NULL UNIQUE,
  expires_at       TEXT NOT NULL,
  revoked_at       TEXT,
  replaced_by      TEXT,
  created_at       TEXT NOT NULL,
  ip               TEXT,
  user_agent       TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
  id               TEXT PRIMARY KEY,
  organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  prefix           TEXT NOT NULL,
  key_hash         TEXT NOT NULL UNIQUE,
  permissions      TEXT NOT NULL DEFAULT '[]',
  created_by       TEXT,
  created_at       TEXT NOT NULL,
  last_used_at     TEXT,
  expires_at       TEXT,
  revoked_at       TEXT
);
CREATE INDEX api_keys_org ON api_keys (organization_id, id);

CREATE TABLE invitations (
  id               TEXT PRIMARY KEY,
  organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email            TEXT NOT NULL COLLATE NOCASE,
  role_id          TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  token_hash       TEXT NOT NULL UNIQUE,
  invited_by       TEXT,
  created_at       TEXT NOT NULL,
  expires_at       TEXT NOT NULL,
  accepted_at      TEXT
);
CREATE INDEX invitations_org ON invitations (organization_id, id);

CREATE TABLE agents (
  id               TEXT PRIMARY KEY,
  organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  description      TEXT NOT NULL DEFAULT '',
  executor         TEXT NOT NULL,
  model            TEXT NOT NULL DEFAULT '',
  instructions     TEXT NOT NULL DEFAULT '',
  config           TEXT NOT NULL DEFAULT '{}',
  created_by       TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX agents_org ON agents (organization_id, id);

CREATE TABLE tasks (
  id               TEXT PRIMARY KEY,
  organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  agent_id         TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  status           TEXT NOT NULL
                   CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  input            TEXT NOT NULL DEFAULT '{}',
  output           TEXT,
  error            TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  idempotency_key  TEXT,
  created_by       TEXT,
  created_at       TEXT NOT NULL,
  started_at       TEXT,
  finished_at      TEXT
);
CREATE UNIQUE INDEX tasks_idempotency ON tasks (organization_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_org ON tasks (organization_id, id);
CREATE INDEX tasks_org_agent ON tasks (organization_id, agent_id, id);
CREATE INDEX tasks_status ON tasks (status, id);

CREATE TABLE outbox (
  id            TEXT PRIMARY KEY,
  topic         TEXT NOT NULL,
  payload       TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  published_at  TEXT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Append-only: no foreign key, so entries outlive a deleted organization; triggers refuse edits.
CREATE TABLE audit_log (
  id               TEXT PRIMARY KEY,
  organization_id  TEXT,
  actor_type       TEXT NOT NULL,
  actor_id         TEXT,
  action           TEXT NOT NULL,
  target_type      TEXT,
  target_id        TEXT,
  ip               TEXT,
  user_agent       TEXT,
  request_id       TEXT,
  details          TEXT NOT NULL DEFAULT '{}',
  created_at       TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (organization_id, id);
CREATE INDEX audit_log_org_action ON audit_log (organization_id, action, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE org_secrets (
  organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  ciphertext       TEXT NOT NULL,
  nonce            TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  PRIMARY KEY (organization_id, name)
);
