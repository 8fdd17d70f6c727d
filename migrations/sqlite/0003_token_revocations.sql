-- Revocations of access tokens before they expire (DESIGN.md §7): logout, member removal, role
-- change, key revocation. Every replica keeps them in memory, fed by the event bus for speed and
-- by polling this table as the safety net (events are at most once) and at start-up. Rows are
-- platform-level (no row-level security) and deleted once expires_at has passed.
CREATE TABLE token_revocations (
  id               TEXT PRIMARY KEY,
  kind             TEXT NOT NULL
                   CHECK (kind IN ('session', 'member', 'user', 'organization', 'api_key')),
  subject          TEXT NOT NULL,
  organization_id  TEXT,
  cutoff_at        TEXT NOT NULL,
  expires_at       TEXT NOT NULL,
  created_at       TEXT NOT NULL
);
CREATE INDEX token_revocations_created ON token_revocations (created_at);
CREATE INDEX token_revocations_expires ON token_revocations (expires_at);
