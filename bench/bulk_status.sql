-- POST /api/v1/issues/bulk-status, 1000 ids, with a bearer token: one
-- transaction, as it_res_bulk.c sends it:
--   1. it_auth.c, the caller
--   2. BEGIN; the 1000 rows locked in id order; one UPDATE of all of them;
--      the 1000 status_changed events in one INSERT ... SELECT; COMMIT
-- Each transaction flips the issues between open and in_progress, as
-- bench/bulk_status.lua does (flip is a per-client variable kept between
-- transactions); the events are bound as the module builds them (evs1: to
-- in_progress, evs2: back to open).
-- Variables (scripts/bench, setup_bulk): uid, ids (a uuid[] literal), evs1,
-- evs2, f = false; flip starts at 0.
\set flip 1 - :flip
\set idx :flip + 1
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
BEGIN;
SELECT i.id, i.status, i.version, i.is_deleted, p.is_deleted,       i.assignee_id, i.priority  FROM issues i JOIN projects p ON p.id = i.project_id WHERE i.id = ANY(:ids::uuid[]) ORDER BY i.id FOR NO KEY UPDATE OF i;
UPDATE issues i SET status = COALESCE((ARRAY['open', 'in_progress'])[:idx]::text, i.status), priority = COALESCE(NULL::text, i.priority), assignee_id = CASE WHEN :f::boolean THEN NULL::uuid ELSE i.assignee_id END, resolved_at = CASE WHEN (ARRAY['open', 'in_progress'])[:idx]::text IS NULL OR (ARRAY['open', 'in_progress'])[:idx]::text = i.status THEN i.resolved_at                    WHEN (ARRAY['open', 'in_progress'])[:idx]::text = 'resolved' THEN now()                    WHEN (ARRAY['open', 'in_progress'])[:idx]::text IN ('open', 'in_progress') THEN NULL                    ELSE i.resolved_at END, closed_at = CASE WHEN (ARRAY['open', 'in_progress'])[:idx]::text IS NULL OR (ARRAY['open', 'in_progress'])[:idx]::text = i.status THEN i.closed_at                  WHEN (ARRAY['open', 'in_progress'])[:idx]::text = 'closed' THEN now()                  WHEN (ARRAY['open', 'in_progress'])[:idx]::text IN ('open', 'in_progress') THEN NULL                  ELSE i.closed_at END, version = i.version + 1, updated_at = now() WHERE i.id = ANY(:ids::uuid[]) RETURNING i.id, i.version;
INSERT INTO issue_events (issue_id, kind, actor_id, data) SELECT (e.v->>'issue_id')::uuid, e.v->>'kind', :uid::uuid,        COALESCE(e.v->'data', '{}'::jsonb)   FROM jsonb_array_elements((ARRAY[:evs2, :evs1])[:idx]::jsonb) WITH ORDINALITY AS e(v, n)  ORDER BY e.n;
COMMIT;
