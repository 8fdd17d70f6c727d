-- Single-use WebSocket tickets (POST /api/realtime/ticket). Not a tenant table: a ticket is found
-- by its hash before anyone knows the tenant; the principal it stands for is stored with it.
CREATE TABLE realtime_tickets (
  id          TEXT PRIMARY KEY,
  token_hash  TEXT NOT NULL UNIQUE,
  principal   TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  expires_at  TEXT NOT NULL,
  used_at     TEXT
);
CREATE INDEX realtime_tickets_expiry ON realtime_tickets (expires_at);
