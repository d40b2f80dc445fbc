-- 005_report_indexes: two narrow indexes for the reports' defaults over all
-- projects (it_res_reports.c; plans and timings in docs/reports.md).
--
-- Run by scripts/migrate inside one transaction: no BEGIN/COMMIT, so plain
-- CREATE INDEX (it blocks writes to issues while it builds: on a large
-- table apply it in a maintenance window, docs/schema.md "Migrations").
-- Both are partial on live resolved issues, like issues_resolved_report_idx
-- (001), which the other reports keep using.

-- top-assignees over all time (its default): every resolution is counted
-- per assignee. issues_resolved_report_idx holds them in resolved_at order
-- with three INCLUDE columns (~22 MB on 1M issues, 400k resolutions): a
-- hash aggregate over the whole index. This one has only the assignee:
-- B-tree deduplication stores each assignee once per leaf page with a list
-- of row ids (~2 MB), and the count is a walk in assignee order, grouped
-- without hashing. Unassigned issues are not in the report, nor here.
CREATE INDEX issues_resolved_assignee_idx
    ON issues (assignee_id)
    WHERE NOT is_deleted AND resolved_at IS NOT NULL AND assignee_id IS NOT NULL;

-- latency (days=30 by default): statistics per priority and overall. From
-- issues_resolved_report_idx the rows must first be sorted by priority;
-- here the report's "priority IN (the four priorities)" is one range per
-- priority, read in priority order, so the rows arrive grouped and only
-- the percentiles' own sorts remain (~16 MB).
CREATE INDEX issues_priority_resolved_idx
    ON issues (priority, resolved_at) INCLUDE (created_at)
    WHERE NOT is_deleted AND resolved_at IS NOT NULL;
