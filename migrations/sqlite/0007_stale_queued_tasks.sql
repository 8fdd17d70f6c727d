-- The lost-message sweep (TaskStore::republish_stale) reads only the queued tasks due before its
-- cutoff, oldest first, in a bounded batch: not every queued task of every tenant.
CREATE INDEX tasks_queued_due ON tasks (available_at) WHERE status = 'queued';
