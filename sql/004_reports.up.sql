-- 004_reports: indexes for the reports (it_res_reports.c, docs/reports.md)
-- that 001 lacks. issues_resolved_report_idx (001) serves the reports over
-- all projects; these serve the project filter and the open counts.

-- top-assignees: open issues (open, in_progress) per assignee, optionally
-- in one project. Small (only unfinished live issues) and index-only.
CREATE INDEX issues_open_assignee_idx
    ON issues (assignee_id, project_id)
    WHERE NOT is_deleted AND status IN ('open', 'in_progress');

-- latency, velocity (resolved), top-assignees with project_id=: the
-- project's resolutions in a resolved_at range, index-only.
CREATE INDEX issues_project_resolved_report_idx
    ON issues (project_id, resolved_at) INCLUDE (created_at, assignee_id, priority)
    WHERE NOT is_deleted AND resolved_at IS NOT NULL;

-- velocity (created) with project_id= uses issues_project_created_id_idx
-- (003_issue_list_indexes: project_id, created_at, id WHERE NOT is_deleted).
