-- 0005: drop the index on (org_id, status).
-- Never edit this file once shipped: add a new migration.
--
-- Every invitation changes status three times in its life (pending, in_flight, then its
-- result), and each change moved its entry inside `invites_by_status`: the largest share of the
-- journal's work per invitation (measured by the benchmark in BENCHMARKS.md). Nothing on the
-- run's path reads it: a run finds each person by the primary key. Counting per status
-- (`status`) or listing one status (`report --status`) now reads the table once, which takes
-- well under a second for a million people.
DROP INDEX IF EXISTS invites_by_status;
