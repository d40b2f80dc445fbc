-- 005_report_indexes (down): drop exactly what the up file created.
-- Run by scripts/migrate inside one transaction: no BEGIN/COMMIT here.

DROP INDEX issues_priority_resolved_idx;
DROP INDEX issues_resolved_assignee_idx;
