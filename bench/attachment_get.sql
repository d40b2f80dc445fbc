-- GET /api/v1/attachments/{id}/content with a bearer token (the 1 MiB
-- file of setup_attachment), two round trips; the bytes then come from the
-- file (a file bucket, as httpd serves the static copy), not from PostgreSQL:
--   1. it_auth.c, the caller
--   2. it_res_attachments.c it_sql_att_content, the attachment's row, issue
--      and project (no JSON document)
-- Variables (scripts/bench): uid = the bench user, att = the attachment.
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
SELECT NULL, a.version, a.is_deleted, i.is_deleted, a.storage_key, a.sha256, a.content_type, a.filename, a.size_bytes, a.uploader_id, a.issue_id, p.is_deleted FROM attachments a JOIN issues i ON i.id = a.issue_id JOIN projects p ON p.id = i.project_id WHERE a.id = :att::uuid;
