-- 0001: the journal's first schema. Never edit this file once shipped: add a new migration.
--
-- Every timestamp is UTC ISO-8601 text (e.g. 2026-11-29T01:26:34.123Z), so plain string
-- comparison orders them and sqlite3's date functions read them.

-- The status values an invite can have, with what each means. Kept as a table so that
-- `SELECT * FROM statuses` documents the journal from inside it, and so that a later migration
-- can add values without rebuilding `invites`.
CREATE TABLE statuses (
    status  TEXT PRIMARY KEY,
    meaning TEXT NOT NULL
);
INSERT INTO statuses (status, meaning) VALUES
    ('pending',   'valid row not sent yet, or sent and known not to have been created; the next run sends it'),
    ('in_flight', 'a request was sent and its outcome is not known yet; the next run looks the person up before sending again'),
    ('invited',   'Atlas created the invitation; invitation_id holds its id'),
    ('failed',    'Atlas refused the invitation (a non-retryable error) or every attempt failed; the next run tries again'),
    ('invalid',   'the CSV row did not validate; last_error_detail says why');

-- One row per invocation of `atlas-invite run`.
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    started_at      TEXT    NOT NULL,
    finished_at     TEXT,
    org_id          TEXT    NOT NULL,
    csv_path        TEXT    NOT NULL,
    csv_sha256      TEXT    NOT NULL,
    api             TEXT    NOT NULL,
    base_url        TEXT    NOT NULL,
    -- Effective options as a JSON object. Never holds a credential.
    options         TEXT    NOT NULL,
    os_user         TEXT,
    hostname        TEXT,
    rows_total      INTEGER NOT NULL DEFAULT 0,
    rows_valid      INTEGER NOT NULL DEFAULT 0,
    rows_invalid    INTEGER NOT NULL DEFAULT 0,
    rows_duplicate  INTEGER NOT NULL DEFAULT 0,
    -- Valid rows already done in an earlier run, so not sent by this one.
    skipped         INTEGER NOT NULL DEFAULT 0,
    invited         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    -- Valid rows left pending or in_flight when the run ended (interrupted or aborted).
    unfinished      INTEGER NOT NULL DEFAULT 0,
    requests        INTEGER NOT NULL DEFAULT 0,
    exit_code       INTEGER,
    tool_version    TEXT    NOT NULL
);

-- One row per person per organization: the latest state of their invitation.
CREATE TABLE invites (
    org_id            TEXT    NOT NULL,
    -- The email lower-cased: the identity of the person within the organization.
    email_key         TEXT    NOT NULL,
    -- The email as written in the CSV the last time it was read.
    email             TEXT    NOT NULL,
    -- Requested grants as JSON arrays: roles ["ORG_MEMBER"], team_ids ["5f..."],
    -- projects [{"groupId":"5f...","roles":["GROUP_READ_ONLY"]}].
    roles             TEXT    NOT NULL DEFAULT '[]',
    team_ids          TEXT    NOT NULL DEFAULT '[]',
    projects          TEXT    NOT NULL DEFAULT '[]',
    status            TEXT    NOT NULL REFERENCES statuses (status),
    invitation_id     TEXT,
    -- HTTP requests made for this person, across all runs.
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_http_status  INTEGER,
    last_error_code   TEXT,
    last_error_detail TEXT,
    csv_line          INTEGER,
    first_run_id      INTEGER REFERENCES runs (id),
    last_run_id       INTEGER REFERENCES runs (id),
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    invited_at        TEXT,
    PRIMARY KEY (org_id, email_key)
);
-- `status` counts per organization and the rerun's "what is left" scan.
CREATE INDEX invites_by_status ON invites (org_id, status);

-- One row per HTTP request the pipeline made.
CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs (id),
    org_id       TEXT    NOT NULL,
    email_key    TEXT    NOT NULL,
    -- 1-based number of this request for this person within the run.
    attempt      INTEGER NOT NULL,
    -- 'invite' for the POST, 'lookup' for a GET that checks whether an invitation exists.
    kind         TEXT    NOT NULL,
    endpoint     TEXT    NOT NULL,
    sent_at      TEXT    NOT NULL,
    finished_at  TEXT    NOT NULL,
    http_status  INTEGER,
    error_code   TEXT,
    detail       TEXT,
    latency_ms   REAL    NOT NULL,
    -- What the request meant: invited, already_invited, already_member, found, not_found,
    -- retry, rate_limited, unknown (sent, no answer), refused, unauthorized.
    outcome      TEXT    NOT NULL
);
-- A person's history across runs.
CREATE INDEX attempts_by_person ON attempts (org_id, email_key);
-- Everything one run did.
CREATE INDEX attempts_by_run ON attempts (run_id);
