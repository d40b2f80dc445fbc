-- GET /api/v1/issues/{id} (a UUID) with a bearer token, two round trips:
--   1. it_auth.c it_sql_caller_by_id, the caller
--   2. it_res_issues.c it_sql_issue_get, the issue's document
-- The module binds $1 = the id and NULL for $2, $3 (the PROJ-42 form);
-- pgbench cannot bind NULL, so those are NULL literals here, and the id is
-- md5('bench-issue-' || n)::uuid (bench/load_issues.sql). PostgreSQL plans
-- an unnamed statement with its parameter values, so both fold to the same
-- constants and the same plan (COALESCE of a non-null constant drops the
-- sub-select).
-- Variables (scripts/bench, setup_issues): uid = the bench user's id.
\set n random(1, 100000)
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
SELECT (CASE WHEN i.is_deleted THEN ((json_build_object('id', i.id, 'key', p.key || '-' || i.number, 'number', i.number, 'project_id', i.project_id, 'title', i.title, 'description', i.description, 'status', i.status, 'priority', i.priority, 'type', i.type, 'creator_id', i.creator_id, 'assignee_id', i.assignee_id, 'resolved_at', it_ts(i.resolved_at), 'closed_at', it_ts(i.closed_at), 'created_at', it_ts(i.created_at), 'updated_at', it_ts(i.updated_at), 'version', i.version, 'labels', (SELECT coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY lower(l.name)), '[]') FROM issue_labels il JOIN labels l ON l.id = il.label_id WHERE il.issue_id = i.id AND NOT l.is_deleted))::text)::jsonb || jsonb_build_object('is_deleted', true, 'deleted_at', it_ts(i.deleted_at)))::text ELSE json_build_object('id', i.id, 'key', p.key || '-' || i.number, 'number', i.number, 'project_id', i.project_id, 'title', i.title, 'description', i.description, 'status', i.status, 'priority', i.priority, 'type', i.type, 'creator_id', i.creator_id, 'assignee_id', i.assignee_id, 'resolved_at', it_ts(i.resolved_at), 'closed_at', it_ts(i.closed_at), 'created_at', it_ts(i.created_at), 'updated_at', it_ts(i.updated_at), 'version', i.version, 'labels', (SELECT coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY lower(l.name)), '[]') FROM issue_labels il JOIN labels l ON l.id = il.label_id WHERE il.issue_id = i.id AND NOT l.is_deleted))::text END), i.version, i.is_deleted FROM issues i JOIN projects p ON p.id = i.project_id WHERE i.id = COALESCE(md5('bench-issue-' || :n)::uuid, (SELECT k.id FROM issues k JOIN projects kp ON kp.id = k.project_id WHERE kp.key = NULL::text AND k.number = NULL::int));
