-- 0002: a person Atlas says is already invited or already a member is done, not failed.
INSERT INTO statuses (status, meaning) VALUES
    ('already_invited', 'Atlas answered that a pending invitation for this person already exists; nothing new was created'),
    ('already_member',  'Atlas answered that this person is already a member of the organization; nothing was created');

-- Per-run counts of the two new outcomes, beside `invited` and `failed`.
ALTER TABLE runs ADD COLUMN already_invited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN already_member  INTEGER NOT NULL DEFAULT 0;
