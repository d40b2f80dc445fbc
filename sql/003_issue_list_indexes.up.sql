-- 003_issue_list_indexes: indexes for GET /api/v1/issues that 001 lacks.
--
-- Run by scripts/migrate inside one transaction: no BEGIN/COMMIT, so plain
-- CREATE INDEX (it blocks writes to issues while it builds: on a large
-- table apply it in a maintenance window, docs/schema.md "Migrations").
-- Like the list indexes of 001, each is partial on live rows and ends with
-- id, the keyset tie-breaker; a B-tree serves sort=x and sort=-x.
-- docs/queries.md shows the plans each one fixes on 100k issues.

-- project_id=X with the default sort (and sort=-created_at): without it
-- the planner walks issues_created_idx and filters, which reads the whole
-- index for a small project.  The project's issue list is the most common
-- list of all.
CREATE INDEX issues_project_created_id_idx
    ON issues (project_id, created_at, id) WHERE NOT is_deleted;

-- project_id=X&sort=-updated_at ("recently active in this project").
CREATE INDEX issues_project_updated_idx
    ON issues (project_id, updated_at, id) WHERE NOT is_deleted;

-- project_id=X&sort=-priority (the backlog by priority).
CREATE INDEX issues_project_priority_idx
    ON issues (project_id, priority_rank, id) WHERE NOT is_deleted;

-- assignee_id=none: `assignee_id IS NULL` is no equality, so
-- issues_assignee_created_idx cannot return those rows in created_at
-- order; this small index holds only the unassigned ones.
CREATE INDEX issues_unassigned_created_idx
    ON issues (created_at, id) WHERE assignee_id IS NULL AND NOT is_deleted;

-- sort=number and sort=title over all projects: without an index each is
-- a sort of every live issue (60 ms on 100k, growing with the table).
CREATE INDEX issues_number_idx
    ON issues (number, id) WHERE NOT is_deleted;
CREATE INDEX issues_title_idx
    ON issues (title, id) WHERE NOT is_deleted;
