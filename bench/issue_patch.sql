-- PATCH /api/v1/issues/{id} with If-Match "*" and {"priority": ...}, with a
-- bearer token: the caller, then one transaction (it_db_tx), six round
-- trips in all:
--   1. it_auth.c it_sql_caller_by_id, the caller (outside the transaction)
--   2. BEGIN (apr_dbd_query)
--   3. it_res_issues.c it_sql_issue_lock, the row locked; the module then
--      decides permission, precondition and events on these values
--   4. it_res_issues.c it_sql_issue_update with the locked version
--   5. it_events.c it_sql_event_add, one field_changed event
--   6. COMMIT
-- The module binds NULL for the fields the body does not set and for $2,
-- $3 (the PROJ-42 form); pgbench cannot bind NULL, so those are NULL
-- literals; the new priority is a random one (the module's always differs
-- from the current one; the UPDATE writes a new row version either way).
-- The last column of the lock gets a name (AS desc_changed) only because
-- gset needs one; the module reads it by position.
-- Variables (scripts/bench, setup_issue_patch): uid, assign (false), kind,
-- evdata.
\set n random(1, 100000)
\set p random(1, 4)
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
BEGIN;
SELECT i.id, i.version, i.is_deleted, p.is_deleted, i.creator_id, i.status, i.title, i.priority, i.type, i.assignee_id, (NULL::text IS NOT NULL AND NULL::text IS DISTINCT FROM i.description) AS desc_changed FROM issues i JOIN projects p ON p.id = i.project_id WHERE i.id = COALESCE(md5('bench-issue-' || :n)::uuid, (SELECT k.id FROM issues k JOIN projects kp ON kp.id = k.project_id WHERE kp.key = NULL::text AND k.number = NULL::int)) FOR NO KEY UPDATE OF i
\gset
UPDATE issues i SET title = COALESCE(NULL::text, i.title), description = COALESCE(NULL::text, i.description), priority = COALESCE((ARRAY['low', 'medium', 'high', 'critical'])[:p]::text, i.priority), type = COALESCE(NULL::text, i.type), assignee_id = CASE WHEN :assign::boolean THEN NULL::uuid ELSE i.assignee_id END, status = COALESCE(NULL::text, i.status), resolved_at = CASE WHEN NULL::text = 'resolved' THEN now()                    WHEN NULL::text IN ('open', 'in_progress') THEN NULL                    ELSE i.resolved_at END, closed_at = CASE WHEN NULL::text = 'closed' THEN now()                  WHEN NULL::text IN ('open', 'in_progress') THEN NULL                  ELSE i.closed_at END, version = i.version + 1, updated_at = now() FROM projects p WHERE i.id = :id::uuid AND i.version = :version::int AND p.id = i.project_id RETURNING json_build_object('id', i.id, 'key', p.key || '-' || i.number, 'number', i.number, 'project_id', i.project_id, 'title', i.title, 'description', i.description, 'status', i.status, 'priority', i.priority, 'type', i.type, 'creator_id', i.creator_id, 'assignee_id', i.assignee_id, 'resolved_at', it_ts(i.resolved_at), 'closed_at', it_ts(i.closed_at), 'created_at', it_ts(i.created_at), 'updated_at', it_ts(i.updated_at), 'version', i.version, 'labels', (SELECT coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY lower(l.name)), '[]') FROM issue_labels il JOIN labels l ON l.id = il.label_id WHERE il.issue_id = i.id AND NOT l.is_deleted))::text, i.version;
INSERT INTO issue_events (issue_id, kind, actor_id, data) VALUES (:id::uuid, :kind, :uid::uuid, COALESCE(:evdata::jsonb, '{}'::jsonb));
COMMIT;
