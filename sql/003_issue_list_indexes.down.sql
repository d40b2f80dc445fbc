-- 003_issue_list_indexes (down): drop exactly what the up file created.
-- Run by scripts/migrate inside one transaction: no BEGIN/COMMIT here.

DROP INDEX issues_title_idx;
DROP INDEX issues_number_idx;
DROP INDEX issues_unassigned_created_idx;
DROP INDEX issues_project_priority_idx;
DROP INDEX issues_project_updated_idx;
DROP INDEX issues_project_created_id_idx;
