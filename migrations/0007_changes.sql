-- 0007: what happens after the invitation: role updates, revoked invitations, removed people.
-- Never edit this file once shipped: add a new migration.
--
-- A person's `invites.roles`, `team_ids` and `projects` are the grants last applied in Atlas
-- (sent with the invitation, or set by a later update). When the file asks for other grants, a
-- run plans an `update`; `revoke` cancels invitations a run created; `run --prune` removes
-- people this journal brought into the organization who are no longer in the file. Each such
-- change is one row of `changes`, planned before anything is sent and finished with Atlas's
-- answer, and every request it makes is in `attempts` (kind `update`, `revoke`, `remove`, or
-- `lookup` for the GET that finds what to act on).

INSERT INTO statuses (status, meaning) VALUES
    ('revoked', 'the pending invitation (or pending user) was cancelled by `revoke`; a later run invites the person again if the file still names them'),
    ('removed', 'the person was removed from the organization by `run --prune` or `revoke --remove-active`; a later run invites them again if the file names them');

-- The states of a change, with what each means.
CREATE TABLE change_states (
    state   TEXT PRIMARY KEY,
    meaning TEXT NOT NULL
);
INSERT INTO change_states (state, meaning) VALUES
    ('planned', 'decided, not sent yet (or sent by a run that stopped before the answer); changes are idempotent, so the next run or revoke sends it again'),
    ('done',    'Atlas applied the change (or, for a revoke or removal, had nothing left to remove)'),
    ('kept',    'left alone on purpose: the person accepted the invitation and `--remove-active` was not given, or a guard of --prune kept them; detail says which'),
    ('failed',  'Atlas refused the change or every attempt failed; detail says why');

CREATE TABLE changes (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    org_id        TEXT    NOT NULL,
    email_key     TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    -- update (grants changed in the file), revoke (undo what a run created), remove (a leaver).
    operation     TEXT    NOT NULL CHECK (operation IN ('update', 'revoke', 'remove')),
    -- Why it was planned, in words: "roles changed in people.csv", "created by run 4",
    -- "not in the file any more".
    reason        TEXT    NOT NULL,
    -- The grants before and, for an update, after; JSON as in `invites`.
    old_roles     TEXT    NOT NULL DEFAULT '[]',
    old_team_ids  TEXT    NOT NULL DEFAULT '[]',
    old_projects  TEXT    NOT NULL DEFAULT '[]',
    new_roles     TEXT,
    new_team_ids  TEXT,
    new_projects  TEXT,
    state         TEXT    NOT NULL REFERENCES change_states (state),
    -- What the change acted on: `invitation` (a pending invitation) or `user` (a pending or
    -- active user), and its id.
    target        TEXT,
    target_id     TEXT,
    http_status   INTEGER,
    error_code    TEXT,
    detail        TEXT,
    planned_at    TEXT    NOT NULL,
    finished_at   TEXT
);
-- A person's history, and the changes of one run.
CREATE INDEX changes_by_person ON changes (org_id, email_key);
CREATE INDEX changes_by_run ON changes (run_id);

-- What a run was: `run` (the default for every earlier run), `apply` or `revoke`.
ALTER TABLE runs ADD COLUMN command TEXT NOT NULL DEFAULT 'run';
-- Per-run counts of changes that ended done.
ALTER TABLE runs ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
