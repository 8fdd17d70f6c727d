-- Revocations of access tokens before they expire (DESIGN.md §7), as
-- migrations/sqlite/0003_token_revocations.sql: logout, member removal, role change, key
-- revocation. Every replica keeps them in memory, fed by the event bus for speed and by polling
-- this table as the safety net (events are at most once) and at start-up. Rows are
-- platform-level (no row-level security: every replica reads every tenant's) and deleted once
-- expires_at has passed. subject is a session, user, organization or key id, as text.
CREATE TABLE token_revocations (
  id               uuid PRIMARY KEY,
  kind             text NOT NULL
                   CHECK (kind IN ('session', 'member', 'user', 'organization', 'api_key')),
  subject          text NOT NULL,
  organization_id  uuid,
  cutoff_at        timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  created_at       timestamptz NOT NULL
);
CREATE INDEX token_revocations_created ON token_revocations (created_at);
CREATE INDEX token_revocations_expires ON token_revocations (expires_at);

GRANT SELECT, INSERT, DELETE ON token_revocations TO atrium_app;
