-- GET /api/v1/projects/{id} with Basic credentials (conf/auth-basic.conf),
-- three round trips:
--   1. mod_authn_dbd, AuthDBDUserPWQuery of conf/auth-basic.conf (a named
--      prepared statement in httpd, unnamed here); httpd then checks the
--      bcrypt hash (cost 12), which pgbench does not do
--   2. it_auth.c it_sql_caller_by_name, the caller by username
--   3. it_res_projects.c it_sql_project_get, the project's document
-- Variables (scripts/bench, setup_basic): uname = bench, pid = the project.
SELECT COALESCE((SELECT password_hash FROM users WHERE lower(username) = lower(:uname) AND is_active AND NOT is_deleted AND auth_source = 'local'), '$2y$12$cdCMEbAZxv766hehMDGGX.404JggTwxmPAEHbwSU0QbmKZqVj22iO');
SELECT id, username, role, is_active, is_deleted FROM users WHERE lower(username) = lower(:uname);
SELECT (CASE WHEN p.is_deleted THEN json_build_object('id', p.id, 'key', p.key, 'name', p.name, 'description', p.description, 'owner_id', p.owner_id, 'created_at', it_ts(p.created_at), 'updated_at', it_ts(p.updated_at), 'version', p.version, 'is_deleted', true, 'deleted_at', it_ts(p.deleted_at)) ELSE json_build_object('id', p.id, 'key', p.key, 'name', p.name, 'description', p.description, 'owner_id', p.owner_id, 'created_at', it_ts(p.created_at), 'updated_at', it_ts(p.updated_at), 'version', p.version) END)::text, p.version, p.is_deleted FROM projects p WHERE p.id = :pid::uuid;
