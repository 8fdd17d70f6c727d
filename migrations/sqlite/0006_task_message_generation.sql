-- A generation number for each task's queue message: every message carries the generation its
-- task had when the message was written, and each change that writes a new message (retry,
-- deferral, recovery, release, a lost message sent again) moves the generation on in the same
-- statement. A delivery whose generation is not the task's is a stale duplicate: the worker
-- acknowledges and drops it instead of deferring it into yet another message. Messages written
-- before this migration carry none and count as generation 0.
ALTER TABLE tasks ADD COLUMN queue_generation INTEGER NOT NULL DEFAULT 0;
