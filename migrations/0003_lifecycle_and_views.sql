-- 0003: the invitation lifecycle after a run, and views for the common audit questions.
-- Never edit this file once shipped: add a new migration.
--
-- `atlas-invite reconcile` reads the organization's users and pending invitations from Atlas and
-- records here what it saw for every person of the journal. `run` only knows that an invitation
-- was created; whether it was then accepted, let expire or declined is only visible in Atlas, so
-- it is observed, with the time of the observation, rather than derived.

-- The membership states `reconcile` records, with what each means. Kept as a table (like
-- `statuses`) so that `SELECT * FROM membership_states` documents them from inside the journal
-- and `invites.membership_state` can reference it.
CREATE TABLE membership_states (
    state   TEXT PRIMARY KEY,
    meaning TEXT NOT NULL
);
INSERT INTO membership_states (state, meaning) VALUES
    ('PENDING',             'Atlas lists a pending invitation; expires_at says until when it can be accepted'),
    ('ACTIVE',              'the person accepted and is a member of the organization'),
    ('INVITATION_EXPIRED',  'the invitation was not accepted within 30 days; `run --reinvite-expired` sends a new one'),
    ('INVITATION_REJECTED', 'the person declined the invitation; `run --reinvite-expired` sends a new one'),
    ('MISSING',             'Atlas knows neither a user nor an invitation for this person (never sent, deleted, or removed from the organization)');

-- What the last `reconcile` saw for the person. NULL means no reconcile has looked at them yet,
-- which is different from MISSING (looked, and Atlas knows nothing of them).
ALTER TABLE invites ADD COLUMN membership_state TEXT REFERENCES membership_states (state);
-- When that observation was made: the state may have changed in Atlas since.
ALTER TABLE invites ADD COLUMN membership_observed_at TEXT;
-- When a PENDING invitation expires, as Atlas reported it (kept as last seen for the other
-- states, NULL when Atlas did not say). Atlas invitations expire 30 days after they are sent.
ALTER TABLE invites ADD COLUMN expires_at TEXT;
-- Atlas's id of the user (pending or active) for this person, from the users resource.
ALTER TABLE invites ADD COLUMN atlas_user_id TEXT;

-- `report --expiring-within` (PENDING rows ordered by expiry) and the scan `run` makes for
-- expired or rejected invitations both filter on the state within one organization.
CREATE INDEX invites_by_membership ON invites (org_id, membership_state, expires_at);
-- `report --run ID` finds the people a run last acted on without scanning every invite.
CREATE INDEX invites_by_last_run ON invites (last_run_id);

-- One row per `atlas-invite reconcile`: who looked, when, against which Atlas, and what was
-- seen, so that a membership state can be traced to the observation that recorded it.
CREATE TABLE reconciles (
    id           INTEGER PRIMARY KEY,
    org_id       TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    finished_at  TEXT    NOT NULL,
    base_url     TEXT    NOT NULL,
    os_user      TEXT,
    hostname     TEXT,
    -- Users and pending invitations Atlas listed, whether or not the journal knows them.
    atlas_people INTEGER NOT NULL DEFAULT 0,
    -- People of the journal (this organization) in each state after this reconcile.
    pending      INTEGER NOT NULL DEFAULT 0,
    active       INTEGER NOT NULL DEFAULT 0,
    expired      INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    missing      INTEGER NOT NULL DEFAULT 0,
    -- People Atlas listed that the journal does not know (invited by other means).
    untracked    INTEGER NOT NULL DEFAULT 0,
    requests     INTEGER NOT NULL DEFAULT 0,
    tool_version TEXT    NOT NULL
);

-- Latest state per person, with the run that last acted on them: "who got which role, when,
-- by which run, from which file, and have they joined?" in one SELECT. `done` mirrors
-- `InviteStatus::is_done` (a unit test keeps the two in step): 1 when a rerun skips the person.
-- The join is LEFT so that a person stays listed even if their run row were missing.
CREATE VIEW person_state AS
SELECT
    i.org_id,
    i.email_key,
    i.email,
    i.status,
    i.status IN ('invited', 'already_invited', 'already_member') AS done,
    i.roles,
    i.team_ids,
    i.projects,
    i.invitation_id,
    i.attempts,
    i.last_http_status,
    i.last_error_code,
    i.last_error_detail,
    i.csv_line,
    i.membership_state,
    i.membership_observed_at,
    i.expires_at,
    i.atlas_user_id,
    i.first_run_id,
    i.last_run_id,
    r.started_at AS last_run_started_at,
    r.os_user    AS last_run_os_user,
    r.hostname   AS last_run_hostname,
    r.csv_path   AS last_run_csv_path,
    r.csv_sha256 AS last_run_csv_sha256,
    i.created_at,
    i.updated_at,
    i.invited_at
FROM invites i
LEFT JOIN runs r ON r.id = i.last_run_id;

-- Every HTTP request with the run that made it (who, where, from which file): a person's
-- history across runs, or everything one run sent, without writing the join each time.
CREATE VIEW attempt_log AS
SELECT
    a.id,
    a.run_id,
    a.org_id,
    a.email_key,
    i.email,
    a.attempt,
    a.kind,
    a.endpoint,
    a.sent_at,
    a.finished_at,
    a.http_status,
    a.error_code,
    a.detail,
    a.latency_ms,
    a.outcome,
    r.started_at   AS run_started_at,
    r.os_user      AS run_os_user,
    r.hostname     AS run_hostname,
    r.csv_path     AS run_csv_path,
    r.csv_sha256   AS run_csv_sha256,
    r.tool_version AS run_tool_version
FROM attempts a
JOIN runs r ON r.id = a.run_id
LEFT JOIN invites i ON i.org_id = a.org_id AND i.email_key = a.email_key;
