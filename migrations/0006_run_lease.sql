-- 0006: the run lease, and what `in_flight` now promises.
-- Never edit this file once shipped: add a new migration.
--
-- A run may only send while its lease is valid, and renews it every few seconds while it works.
-- A later run thus knows when the last request of a run that was killed can have left: no later
-- than `lease_until` (or `finished_at`, for a run that ended). Together with the settle window,
-- that tells the later run when Atlas can no longer be working on such a request, so that its
-- lookup is final. NULL for runs made before this migration.
ALTER TABLE runs ADD COLUMN lease_until TEXT;

UPDATE statuses SET meaning =
    'a request was sent and its outcome is not known yet; the next run waits until Atlas can no longer be working on it (the settle window), then looks the person up before sending again'
WHERE status = 'in_flight';
