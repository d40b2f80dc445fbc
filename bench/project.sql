-- GET /api/v1/projects/{id} with a bearer token, two round trips:
--   1. it_auth.c it_sql_caller_by_id, the caller (token sub = user id)
--   2. it_res_projects.c it_sql_project_get, the project's document
-- Variables (scripts/bench, setup_bearer): uid = the bench user's id,
-- pid = the bench project's id.
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
SELECT (CASE WHEN p.is_deleted THEN json_build_object('id', p.id, 'key', p.key, 'name', p.name, 'description', p.description, 'owner_id', p.owner_id, 'created_at', it_ts(p.created_at), 'updated_at', it_ts(p.updated_at), 'version', p.version, 'is_deleted', true, 'deleted_at', it_ts(p.deleted_at)) ELSE json_build_object('id', p.id, 'key', p.key, 'name', p.name, 'description', p.description, 'owner_id', p.owner_id, 'created_at', it_ts(p.created_at), 'updated_at', it_ts(p.updated_at), 'version', p.version) END)::text, p.version, p.is_deleted FROM projects p WHERE p.id = :pid::uuid;
