-- GET /api/v1/reports/latency (defaults: days=30, all projects) with a
-- bearer token, two round trips:
--   1. it_auth.c, the caller
--   2. it_res_reports.c, the report's document
-- The module binds NULL for project_id: a NULL literal here.
-- Variables (scripts/bench): uid = the bench user, days = 30.
SELECT id, username, role, is_active, is_deleted FROM users WHERE id = :uid::uuid;
WITH r AS (  SELECT i.priority,         date_part('epoch', i.resolved_at - i.created_at) / 3600 AS h    FROM issues i   WHERE NOT i.is_deleted AND i.resolved_at IS NOT NULL     AND i.resolved_at >= now() - make_interval(days => :days::int)     AND (NULL::uuid IS NULL OR i.project_id = NULL::uuid)), s AS (  SELECT r.priority, count(*) AS n, avg(h) AS mean,         percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY h) AS p    FROM r GROUP BY GROUPING SETS ((), (r.priority))), d AS (  SELECT k.priority, k.ord, json_build_object('count', COALESCE(s.n, 0),         'mean_hours', round(s.mean::numeric, 2),         'p50_hours', round(s.p[1]::numeric, 2),         'p90_hours', round(s.p[2]::numeric, 2),         'p99_hours', round(s.p[3]::numeric, 2)) AS doc    FROM (VALUES (NULL::text, 0), ('low', 1), ('medium', 2), ('high', 3),                 ('critical', 4)) AS k(priority, ord)    LEFT JOIN s ON s.priority IS NOT DISTINCT FROM k.priority) SELECT json_build_object('days', :days::int, 'project_id', NULL::uuid,   'overall', (SELECT doc FROM d WHERE ord = 0),   'by_priority', (SELECT json_object_agg(priority, doc ORDER BY ord)                     FROM d WHERE ord > 0))::text;
