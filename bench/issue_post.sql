-- POST /api/v1/issues (no Idempotency-Key) with a bearer token: the
-- caller, then one transaction (it_db_tx), five round trips in all:
--   1. it_auth.c it_sql_caller_by_id, the caller (outside the transaction)
--   2. BEGIN (apr_dbd_query)
--   3. it_res_issues.c it_sql_issue_create, number from the project row
--      (locked until COMMIT), the INSERT and the document
--   4. it_events.c it_sql_event_add, the created event
--   5. COMMIT
-- The project is one of the 20 of bench/load_issues.sql at random, as in
-- bench/issue_post.lua; the module binds NULL for the assignee, a NULL
-- literal here (pgbench cannot bind NULL).
-- Variables (scripts/bench, setup_issue_post): uid, title, descr, prio,
-- type, kind, evdata.
\set pn random(1, 20)
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
BEGIN;
WITH n AS (  UPDATE projects SET next_number = next_number + 1   WHERE id = md5('bench-project-' || :pn)::uuid AND NOT is_deleted   RETURNING id, key, next_number - 1 AS number), i AS (  INSERT INTO issues (project_id, number, title, description, priority,                      type, creator_id, assignee_id)  SELECT n.id, n.number, :title, :descr, :prio, :type, :uid::uuid, NULL::uuid FROM n   WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = :uid::uuid                    AND u.is_active AND NOT u.is_deleted)     AND (NULL::uuid IS NULL OR EXISTS (SELECT 1 FROM users u          WHERE u.id = NULL::uuid AND u.is_active AND NOT u.is_deleted))  RETURNING *) SELECT json_build_object('id', i.id, 'key', p.key || '-' || i.number, 'number', i.number, 'project_id', i.project_id, 'title', i.title, 'description', i.description, 'status', i.status, 'priority', i.priority, 'type', i.type, 'creator_id', i.creator_id, 'assignee_id', i.assignee_id, 'resolved_at', it_ts(i.resolved_at), 'closed_at', it_ts(i.closed_at), 'created_at', it_ts(i.created_at), 'updated_at', it_ts(i.updated_at), 'version', i.version, 'labels', (SELECT coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY lower(l.name)), '[]') FROM issue_labels il JOIN labels l ON l.id = il.label_id WHERE il.issue_id = i.id AND NOT l.is_deleted))::text, i.version, i.id FROM i JOIN n p ON p.id = i.project_id
\gset
INSERT INTO issue_events (issue_id, kind, actor_id, data) VALUES (:id::uuid, :kind, :uid::uuid, COALESCE(:evdata::jsonb, '{}'::jsonb));
COMMIT;
