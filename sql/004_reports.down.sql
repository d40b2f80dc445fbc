DROP INDEX IF EXISTS issues_project_resolved_report_idx;
DROP INDEX IF EXISTS issues_open_assignee_idx;
