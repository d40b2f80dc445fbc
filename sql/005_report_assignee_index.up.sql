-- 005_report_assignee_index: top-assignees over all time (the report's
-- default, it_res_reports.c, docs/reports.md).
--
-- Run by scripts/migrate inside one transaction: no BEGIN/COMMIT, so plain
-- CREATE INDEX (it blocks writes to issues while it builds: on a large
-- table apply it in a maintenance window, docs/schema.md "Migrations").
--
-- Without a days window the report counts every resolution per assignee.
-- issues_resolved_report_idx (001) holds them in resolved_at order with
-- three INCLUDE columns (~22 MB on 1M issues, 400k resolutions): a hash
-- aggregate over the whole index, 120-150 ms. This index has only the
-- assignee: B-tree deduplication stores each assignee once per leaf page
-- with a list of row ids (~2 MB), and the count is a grouped walk in
-- assignee order with no hashing (~35 ms). Unassigned issues are not in
-- the report and not in the index. With days= or project_id= the report
-- keeps using the range indexes of 001 / 004.
CREATE INDEX issues_resolved_assignee_idx
    ON issues (assignee_id)
    WHERE NOT is_deleted AND resolved_at IS NOT NULL AND assignee_id IS NOT NULL;
