-- import_psql.sql -- the ceiling of the import row (scripts/bench,
-- run_import): psql loading the same CSV file with \copy into a temporary
-- table and running the same statements as it_res_import.c after its COPY
-- (resolve projects, users and labels; check; lock; number; insert issues,
-- labels and events; the result document), in one transaction. What the
-- module does besides: read the upload, parse and validate every field in C
-- (libcsv), and stream its own COPY data.
--   psql -v pid=<project id> -v uid=<creator id> -f import_psql.sql < file.csv
-- The one difference in the SQL: `line` is filled by the table (an
-- identity column, file order) instead of by the module.
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL statement_timeout = '120s';
SELECT EXISTS (SELECT 1 FROM users u WHERE u.id = :'uid'::uuid                  AND u.is_active AND NOT u.is_deleted),       :'pid'::uuid IS NULL OR EXISTS (SELECT 1 FROM projects p          WHERE p.id = :'pid'::uuid AND NOT p.is_deleted);
CREATE TEMPORARY TABLE it_import (  line int NOT NULL GENERATED ALWAYS AS IDENTITY, title text, description text, priority text,  type text, status text, assignee text, labels text, project text) ON COMMIT DROP;
CREATE TEMPORARY TABLE it_import_p (v text, id uuid) ON COMMIT DROP;
CREATE TEMPORARY TABLE it_import_u (v text, id uuid) ON COMMIT DROP;
CREATE TEMPORARY TABLE it_import_l (v text, id uuid) ON COMMIT DROP;
CREATE TEMPORARY TABLE it_import_n (  line int, id uuid, project_id uuid, key text, number int, title text,  description text, priority text, type text, status text,  assignee_id uuid, labels text) ON COMMIT DROP;
CREATE TEMPORARY TABLE it_import_nl (  line int, ord bigint, issue_id uuid, label_id uuid) ON COMMIT DROP;
\copy it_import (title, description, priority, type, status, assignee) FROM pstdin WITH (FORMAT csv, HEADER true)
ANALYZE it_import;
INSERT INTO it_import_p (v, id) WITH v AS (SELECT DISTINCT COALESCE(project, :'pid'::text) AS v FROM it_import) SELECT v.v, p.id FROM v JOIN projects p ON p.key = upper(v.v)  WHERE NOT p.is_deleted UNION ALL SELECT v.v, p.id FROM v JOIN projects p   ON p.id = (CASE WHEN v.v ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$' THEN v.v::uuid END)  WHERE NOT p.is_deleted;
INSERT INTO it_import_u (v, id) WITH v AS (SELECT DISTINCT lower(assignee) AS v FROM it_import             WHERE assignee IS NOT NULL) SELECT v.v, u.id FROM v JOIN users u ON lower(u.username) = v.v  WHERE u.is_active AND NOT u.is_deleted UNION ALL SELECT v.v, u.id FROM v JOIN users u ON lower(u.email) = v.v  WHERE u.is_active AND NOT u.is_deleted UNION ALL SELECT v.v, u.id FROM v JOIN users u   ON u.id = (CASE WHEN v.v ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$' THEN v.v::uuid END)  WHERE u.is_active AND NOT u.is_deleted;
INSERT INTO it_import_l (v, id) SELECT v.v, l.id FROM (SELECT DISTINCT lower(x) AS v   FROM it_import, unnest(string_to_array(labels, ';')) AS x  WHERE labels IS NOT NULL) v JOIN labels l ON lower(l.name) = v.v AND NOT l.is_deleted;
SELECT line, col, code, msg, count(*) OVER () FROM ( SELECT r.line, 'project' AS col, 'required' AS code,        'is required when project_id is not given' AS msg   FROM it_import r WHERE r.project IS NULL AND :'pid'::text IS NULL UNION ALL SELECT r.line, 'project', 'not_found',        'no project with key or id ' || r.project   FROM it_import r WHERE r.project IS NOT NULL    AND NOT EXISTS (SELECT 1 FROM it_import_p p WHERE p.v = r.project) UNION ALL SELECT r.line, 'assignee', 'not_found',        'no active user with id, username or email ' || r.assignee   FROM it_import r WHERE r.assignee IS NOT NULL    AND NOT EXISTS (SELECT 1 FROM it_import_u u WHERE u.v = lower(r.assignee)) UNION ALL SELECT r.line, 'labels', 'not_found', 'no label named ' || x   FROM it_import r, unnest(string_to_array(r.labels, ';')) AS x  WHERE r.labels IS NOT NULL    AND NOT EXISTS (SELECT 1 FROM it_import_l l WHERE l.v = lower(x))) e ORDER BY line, col LIMIT 1000;
SELECT p.id FROM projects p WHERE p.id IN (SELECT id FROM it_import_p) ORDER BY p.id FOR NO KEY UPDATE;
INSERT INTO it_import_n SELECT r.line, gen_random_uuid(), p.id, p.key,        p.next_number - 1 + row_number() OVER (PARTITION BY p.id ORDER BY r.line),        r.title, COALESCE(r.description, ''), COALESCE(r.priority, 'medium'),        COALESCE(r.type, 'task'), COALESCE(r.status, 'open'), u.id, r.labels   FROM it_import r   JOIN it_import_p pm ON pm.v = COALESCE(r.project, :'pid'::text)   JOIN projects p ON p.id = pm.id   LEFT JOIN it_import_u u ON u.v = lower(r.assignee);
UPDATE projects p SET next_number = p.next_number + c.n FROM (SELECT project_id, count(*) AS n FROM it_import_n GROUP BY 1) c WHERE p.id = c.project_id;
INSERT INTO issues (id, project_id, number, title, description, status,                    priority, type, creator_id, assignee_id, resolved_at,                    closed_at) SELECT id, project_id, number, title, description, status, priority, type,        :'uid'::uuid, assignee_id,        CASE WHEN status = 'resolved' THEN now() END,        CASE WHEN status = 'closed' THEN now() END   FROM it_import_n ORDER BY line;
INSERT INTO it_import_nl SELECT n.line, x.ord, n.id, l.id   FROM it_import_n n,        unnest(string_to_array(n.labels, ';')) WITH ORDINALITY AS x(name, ord)   JOIN it_import_l l ON l.v = lower(x.name)  WHERE n.labels IS NOT NULL;
INSERT INTO issue_labels (issue_id, label_id) SELECT issue_id, label_id FROM it_import_nl ORDER BY line, ord;
INSERT INTO issue_events (issue_id, kind, actor_id, data) SELECT issue_id, kind, :'uid'::uuid, data FROM (  SELECT n.line, 0 AS o, n.id AS issue_id, 'created' AS kind,         '{}'::jsonb AS data FROM it_import_n n  UNION ALL  SELECT n.line, 1, n.id, 'assigned',         jsonb_build_object('from', NULL::text, 'to', n.assignee_id)    FROM it_import_n n WHERE n.assignee_id IS NOT NULL  UNION ALL  SELECT l.line, 1 + l.ord, l.issue_id, 'labeled',         jsonb_build_object('label_id', l.label_id)    FROM it_import_nl l) e ORDER BY line, o;
SELECT json_build_object('created', count(*), 'items', COALESCE(json_agg(json_build_object('id', id,   'key', key || '-' || number, 'number', number) ORDER BY line),   '[]'::json))::text FROM it_import_n;
COMMIT;
