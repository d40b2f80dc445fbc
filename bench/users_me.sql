-- GET /api/v1/users/me with a bearer token. mod_auth_openidc checks the
-- token without the database; mod_issuetracker then sends two statements,
-- each its own round trip (PQexecParams, unnamed, bound parameters):
--   1. it_auth.c it_sql_caller_by_id, the caller (token sub = user id)
--   2. it_res_users.c it_user_sql_get, the caller's document
-- Variables (scripts/bench, setup_bearer): uid = the bench user's id.
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
SELECT (CASE WHEN u.is_deleted THEN json_build_object('id', u.id, 'username', u.username, 'email', u.email, 'full_name', u.full_name, 'role', u.role, 'is_active', u.is_active, 'created_at', it_ts(u.created_at), 'updated_at', it_ts(u.updated_at), 'version', u.version, 'is_deleted', true, 'deleted_at', it_ts(u.deleted_at)) ELSE json_build_object('id', u.id, 'username', u.username, 'email', u.email, 'full_name', u.full_name, 'role', u.role, 'is_active', u.is_active, 'created_at', it_ts(u.created_at), 'updated_at', it_ts(u.updated_at), 'version', u.version) END)::text, u.version, u.is_deleted FROM users u WHERE u.id = :uid::uuid;
