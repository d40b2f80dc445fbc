-- GET /api/v1/reports/top-assignees (defaults: all time, all projects,
-- limit 10) with a bearer token, two round trips:
--   1. it_auth.c, the caller
--   2. it_res_reports.c, the report's document
-- The module binds NULL for days and project_id: NULL literals here.
-- Variables (scripts/bench): uid = the bench user, lim = 10.
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
WITH r AS (  SELECT i.assignee_id, count(*) AS resolved    FROM issues i   WHERE NOT i.is_deleted AND i.resolved_at IS NOT NULL     AND i.assignee_id IS NOT NULL     AND (NULL::int IS NULL OR i.resolved_at >= now() - make_interval(days => NULL::int))     AND (NULL::uuid IS NULL OR i.project_id = NULL::uuid)   GROUP BY i.assignee_id   ORDER BY resolved DESC, i.assignee_id   LIMIT :lim::int) SELECT json_build_object('days', NULL::int, 'project_id', NULL::uuid,   'items', COALESCE(json_agg(json_build_object(     'assignee_id', r.assignee_id, 'username', u.username,     'resolved', r.resolved,     'open', (SELECT count(*) FROM issues o               WHERE o.assignee_id = r.assignee_id AND NOT o.is_deleted                 AND o.status IN ('open', 'in_progress')                 AND (NULL::uuid IS NULL OR o.project_id = NULL::uuid)))     ORDER BY r.resolved DESC, r.assignee_id), '[]'))::text   FROM r JOIN users u ON u.id = r.assignee_id;
