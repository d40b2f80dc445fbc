-- POST /api/v1/issues/{id}/attachments (multipart/form-data, 1 MiB) with a
-- bearer token: the statements of one upload (the file itself is written,
-- fsynced and renamed by the module between 2 and BEGIN; pgbench does none
-- of that, so this is only the database's share):
--   1. it_auth.c, the caller
--   2. it_res_attachments.c, the issue (exists, visible)
--   3. BEGIN; the attachment row; the attachment_added event; COMMIT
-- The id and the storage key are new for every transaction: a per-client
-- counter k (pgbench keeps a client's variables between transactions).
-- Variables (scripts/bench): uid, issue, size, sha, fname, ctype, kind, evdata (the module's
-- event data names the new attachment's id; here a fixed id of the same
-- length); k starts at 0.
\set k :k + 1
\set n :client_id * 1000000000 + :k
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
SELECT i.id, i.creator_id, i.is_deleted, p.is_deleted FROM issues i JOIN projects p ON p.id = i.project_id WHERE i.id = COALESCE(:issue::uuid, (SELECT k.id FROM issues k JOIN projects kp ON kp.id = k.project_id WHERE kp.key = NULL::text AND k.number = NULL::int));
BEGIN;
INSERT INTO attachments AS a (id, issue_id, uploader_id, filename, content_type,                         size_bytes, sha256, storage_key) SELECT md5('bench-att-' || :n)::uuid, i.id, :uid::uuid, :fname, :ctype, :size::bigint, :sha, md5('bench-key-' || :n)   FROM issues i WHERE i.id = :issue::uuid AND NOT i.is_deleted RETURNING json_build_object('id', a.id, 'issue_id', a.issue_id, 'uploader_id', a.uploader_id, 'filename', a.filename, 'content_type', a.content_type, 'size_bytes', a.size_bytes, 'sha256', a.sha256, 'created_at', it_ts(a.created_at), 'version', a.version)::text, a.version;
INSERT INTO issue_events (issue_id, kind, actor_id, data) VALUES (:issue::uuid, :kind, :uid::uuid, COALESCE(:evdata::jsonb, '{}'::jsonb));
COMMIT;
