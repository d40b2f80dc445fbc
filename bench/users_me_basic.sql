-- GET /api/v1/users/me with Basic credentials (conf/auth-basic.conf), three
-- round trips:
--   1. mod_authn_dbd, AuthDBDUserPWQuery of conf/auth-basic.conf (%s is the
--      username; httpd runs it as a named prepared statement, pgbench as an
--      unnamed one, so pgbench pays one more parse per transaction); httpd
--      then checks the bcrypt hash (cost 12), which pgbench does not do
--   2. it_auth.c it_sql_caller_by_name, the caller by username
--   3. it_res_users.c it_user_sql_get, the caller's document
-- Variables (scripts/bench, setup_basic): uname = bench, uid = its id.
SELECT COALESCE((SELECT password_hash FROM users WHERE lower(username) = lower(:uname) AND is_active AND NOT is_deleted AND auth_source = 'local'), '$2y$12$cdCMEbAZxv766hehMDGGX.404JggTwxmPAEHbwSU0QbmKZqVj22iO');
SELECT id, username, role, is_active, is_deleted FROM users WHERE lower(username) = lower(:uname);
SELECT (CASE WHEN u.is_deleted THEN json_build_object('id', u.id, 'username', u.username, 'email', u.email, 'full_name', u.full_name, 'role', u.role, 'is_active', u.is_active, 'created_at', it_ts(u.created_at), 'updated_at', it_ts(u.updated_at), 'version', u.version, 'is_deleted', true, 'deleted_at', it_ts(u.deleted_at)) ELSE json_build_object('id', u.id, 'username', u.username, 'email', u.email, 'full_name', u.full_name, 'role', u.role, 'is_active', u.is_active, 'created_at', it_ts(u.created_at), 'updated_at', it_ts(u.updated_at), 'version', u.version) END)::text, u.version, u.is_deleted FROM users u WHERE u.id = :uid::uuid;
