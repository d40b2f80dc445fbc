-- 005_report_assignee_index (down): drop exactly what the up file created.
-- Run by scripts/migrate inside one transaction: no BEGIN/COMMIT here.

DROP INDEX issues_resolved_assignee_idx;
