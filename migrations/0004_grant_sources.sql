-- 0004: where each person's requested grants came from.
-- Never edit this file once shipped: add a new migration.
--
-- A row's roles, teams and projects may come from its own cells, from rules of a `--rules` file
-- matched on other columns (a department, a title), or from `--default-role`; the audit question
-- "why was this person given ORG_OWNER?" needs which. A JSON array of labels, as `validate`
-- shows them: `["column \"Role\"", "rule 2 (Department = Engineering)", "--default-role"]`.
-- NULL for invalid rows and for rows journaled before this migration.
ALTER TABLE invites ADD COLUMN grant_sources TEXT;
