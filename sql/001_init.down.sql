-- 001_init (down): drop everything 001_init.up.sql created, dependents first.
-- Run by scripts/migrate inside one transaction: no BEGIN/COMMIT here.
-- No CASCADE and no IF EXISTS: an object some later migration hung on these
-- tables, or a table that is unexpectedly missing, makes this fail loudly
-- instead of silently dropping more (or less) than 001 created.
-- Indexes, constraints and the identity sequence go with their tables;
-- comments_path_seq is OWNED BY comments.path and goes with comments.

DROP TABLE idempotency_keys;
DROP TABLE issue_events;
DROP TABLE attachments;
DROP TABLE issue_labels;
DROP TABLE labels;
DROP TABLE comments;
DROP TABLE issues;
DROP TABLE projects;
DROP TABLE users;
