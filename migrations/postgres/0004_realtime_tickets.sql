-- Single-use WebSocket tickets (POST /api/realtime/ticket), as
-- migrations/sqlite/0004_realtime_tickets.sql. Not a tenant table, so without row-level
-- security: a ticket is found by its hash before anyone knows the tenant, and the principal it
-- stands for (JSON) is stored with it.
CREATE TABLE realtime_tickets (
  id          uuid PRIMARY KEY,
  token_hash  text NOT NULL UNIQUE,
  principal   jsonb NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX realtime_tickets_expiry ON realtime_tickets (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON realtime_tickets TO atrium_app;
