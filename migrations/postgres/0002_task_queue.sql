-- Tasks run by workers (issue 6), as migrations/sqlite/0002_task_queue.sql: leases for restart
-- recovery, back-off for retries, and the outbox's fairness key and schedule.

-- running: the claiming worker's lease; a task whose lease expired is recovered by any worker.
ALTER TABLE tasks ADD COLUMN lease_expires_at timestamptz;
-- queued: not to be claimed before this time (retry back-off). '-infinity' precedes every time,
-- as '' does in SQLite's text; neither parses as a time, which readers take as "now".
ALTER TABLE tasks ADD COLUMN available_at timestamptz NOT NULL DEFAULT '-infinity';
-- Per-tenant counts (queued limit, running cap) and the ?status= filter, newest first.
CREATE INDEX tasks_org_status ON tasks (organization_id, status, id);
-- Expired leases, found across tenants.
CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE status = 'running';

-- The organization a message belongs to (the queue's fairness key; any text), and when it is due.
ALTER TABLE outbox ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN available_at timestamptz NOT NULL DEFAULT '-infinity';
DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (topic, available_at, id) WHERE published_at IS NULL;
CREATE INDEX outbox_sent ON outbox (published_at) WHERE published_at IS NOT NULL;
