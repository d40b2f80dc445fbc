-- GET /api/v1/issues?status=open&size=20 with a bearer token, two round
-- trips:
--   1. it_auth.c it_sql_caller_by_id, the caller
--   2. it_res_issues_list.c, the list statement as it_issue_list builds it
--      for this query string (default sort created_at, no cursor, size 20,
--      so LIMIT 21; not fenced; no include_total, so no count)
-- The module binds $1 = 'open', $8 = 'f', $15 = 'f' and NULL for the
-- other twelve filters; the non-NULL ones are bound here too (status,
-- unassigned, incdel), the NULL ones are NULL literals (pgbench cannot bind
-- NULL; an unnamed statement is planned with its values, so the guards fold
-- away the same way).
-- Variables (scripts/bench, setup_issue_list): uid, status, unassigned, incdel.
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
SELECT json_build_object('id', i.id, 'key', p.key || '-' || i.number, 'number', i.number, 'project_id', i.project_id, 'title', i.title, 'description', i.description, 'status', i.status, 'priority', i.priority, 'type', i.type, 'creator_id', i.creator_id, 'assignee_id', i.assignee_id, 'resolved_at', it_ts(i.resolved_at), 'closed_at', it_ts(i.closed_at), 'created_at', it_ts(i.created_at), 'updated_at', it_ts(i.updated_at), 'version', i.version, 'labels', (SELECT coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY lower(l.name)), '[]') FROM issue_labels il JOIN labels l ON l.id = il.label_id WHERE il.issue_id = i.id AND NOT l.is_deleted))::text, i.id, (i.created_at)::text FROM (SELECT i.* FROM issues i WHERE (:status::text IS NULL OR i.status = :status::text) AND (NULL::text[] IS NULL OR i.status = ANY (NULL::text[])) AND (NULL::text IS NULL OR i.priority = NULL::text) AND (NULL::text[] IS NULL OR i.priority = ANY (NULL::text[])) AND (NULL::text IS NULL OR i.type = NULL::text) AND (NULL::text[] IS NULL OR i.type = ANY (NULL::text[])) AND (NULL::uuid IS NULL OR i.assignee_id = NULL::uuid) AND (NOT :unassigned::boolean OR i.assignee_id IS NULL) AND (NULL::uuid IS NULL OR i.creator_id = NULL::uuid) AND (NULL::uuid IS NULL OR i.project_id = NULL::uuid) AND (NULL::text IS NULL OR i.search @@ websearch_to_tsquery('simple', NULL::text)) AND (NULL::timestamptz IS NULL OR i.created_at >= NULL::timestamptz) AND (NULL::timestamptz IS NULL OR i.created_at <= NULL::timestamptz) AND (NULL::timestamptz IS NULL OR i.updated_at >= NULL::timestamptz) AND (:incdel::boolean OR NOT i.is_deleted) AND true ORDER BY i.created_at ASC, i.id ASC LIMIT 21 OFFSET 0) i JOIN projects p ON p.id = i.project_id ORDER BY i.created_at ASC, i.id ASC;
