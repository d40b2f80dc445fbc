-- load_issues.sql -- the fixed data set of the issue benchmarks (DESIGN.md
-- section 8): 200 users, 20 projects, 100,000 issues with one `created`
-- event each. scripts/bench runs it once per run (setup_issues), with
--   psql -X -q -v ON_ERROR_STOP=1 -f bench/load_issues.sql "$DATABASE_URL"
-- on the freshly migrated database; it takes a few seconds. The reports
-- rows load the same data set at 1,000,000 issues (docs/reports.md) with
--   psql ... -v n_issues=1000000 -f bench/load_issues.sql
-- after emptying the issues (users and projects are then already there and
-- are left as they are).
--
-- Ids are derived from the row's ordinal, so that a pgbench script can name
-- a random row without a lookup (`md5('bench-issue-' || :n)::uuid`, which
-- PostgreSQL folds into a constant when it plans the unnamed statement, as
-- it does with the bound uuid the module sends):
--   users     md5('bench-user-'    || n)::uuid, n = 1..200
--   projects  md5('bench-project-' || n)::uuid, n = 1..20, keys BP01..BP20
--   issues    md5('bench-issue-'   || n)::uuid, n = 1..100000
-- They look random (like gen_random_uuid()), so the primary-key index is as
-- scattered as in production.
--
-- The mix (deterministic: every draw is a hash of n, no random()):
--   status    open 40 %, in_progress 20 %, resolved 20 %, closed 20 %
--   priority  low 20 %, medium 45 %, high 25 %, critical 10 %
--   type      bug 40 %, feature 25 %, task 35 %
--   assignee  none 25 %, else one of the 150 developers/managers, skewed
--             towards the first ones (a few people get most of the work)
--   project   skewed: BP01 gets ~1/5 of the issues, BP20 ~1/100
--   created   spread over the two years before the load, numbers per
--             project in creation order (1, 2, 3, ... without gaps)
--   text      titles of 3-9 words, descriptions of 100-400 bytes

\if :{?n_issues}
\else
\set n_issues 100000
\endif

BEGIN;

-- uniform in [0, 1) from n and a salt; hashint8 is stable across runs
CREATE FUNCTION pg_temp.u(n bigint, salt int) RETURNS float8
    LANGUAGE sql IMMUTABLE
    RETURN ((hashint8(n * 1000 + salt)::bigint & 2147483647)::float8 / 2147483648.0);

-- 200 users: 10 admins, 40 managers, 110 developers, 40 reporters. They
-- never log in: '!' matches no password (as for SSO-provisioned users).
INSERT INTO users (id, username, email, full_name, password_hash, role,
                   created_at, updated_at)
SELECT md5('bench-user-' || n)::uuid,
       'benchuser' || lpad(n::text, 3, '0'),
       'benchuser' || lpad(n::text, 3, '0') || '@bench.invalid',
       'Bench User ' || n,
       '!',
       CASE WHEN n <= 10 THEN 'admin' WHEN n <= 50 THEN 'manager'
            WHEN n <= 160 THEN 'developer' ELSE 'reporter' END,
       now() - interval '800 days', now() - interval '800 days'
  FROM generate_series(1, 200) AS n
ON CONFLICT (id) DO NOTHING;

INSERT INTO projects (id, key, name, description, owner_id, created_at, updated_at)
SELECT md5('bench-project-' || n)::uuid,
       'BP' || lpad(n::text, 2, '0'),
       'Bench project ' || n,
       'Project ' || n || ' of the benchmark data set.',
       md5('bench-user-' || (10 + n))::uuid,          -- a manager
       now() - interval '760 days', now() - interval '760 days'
  FROM generate_series(1, 20) AS n
ON CONFLICT (id) DO NOTHING;

CREATE TEMP TABLE bench_words (i int PRIMARY KEY, w text) ON COMMIT DROP;
INSERT INTO bench_words
SELECT ord - 1, w
  FROM unnest(string_to_array(
       'login page crash error slow timeout export import report user '
       'project issue search filter list button save cancel dialog mobile '
       'api token session cache database query index migration upload '
       'download email notification settings permission role dashboard '
       'chart calendar comment label',
       ' ')) WITH ORDINALITY AS t(w, ord);

INSERT INTO issues (id, project_id, number, title, description, status,
                    priority, type, creator_id, assignee_id, resolved_at,
                    closed_at, created_at, updated_at, version)
SELECT s.id, s.project_id,
       row_number() OVER (PARTITION BY s.project_id ORDER BY s.created_at, s.n),
       s.title, s.description, s.status, s.priority, s.type, s.creator_id,
       s.assignee_id,
       CASE WHEN s.status IN ('resolved', 'closed')
            THEN s.created_at + s.work END,
       CASE WHEN s.status = 'closed'
            THEN s.created_at + s.work + interval '2 days' END,
       s.created_at,
       s.created_at + CASE s.status WHEN 'open' THEN interval '0'
                                    WHEN 'in_progress' THEN s.work / 2
                                    WHEN 'resolved' THEN s.work
                                    ELSE s.work + interval '2 days' END,
       CASE s.status WHEN 'open' THEN 1 WHEN 'in_progress' THEN 2
                     WHEN 'resolved' THEN 3 ELSE 4 END
  FROM (
    SELECT n,
           md5('bench-issue-' || n)::uuid AS id,
           md5('bench-project-' || (1 + floor(20 * power(pg_temp.u(n, 1), 2.0))::int))::uuid
               AS project_id,
           initcap((SELECT string_agg(w.w, ' ' ORDER BY k)
                      FROM generate_series(1, 3 + (n % 7)) AS k
                      JOIN bench_words w
                        ON w.i = (hashint8(n * 16 + k) & 2147483647) % 40))
               AS title,
           left(repeat('Steps to reproduce: open issue ' || n || ', then the '
                       || 'page shows the wrong state. Expected: the right state. '
                       || 'Seen on build ' || (n % 97) || '. ', 8),
                (100 + (n * 7919) % 301)::int) AS description,
           CASE WHEN pg_temp.u(n, 2) < 0.40 THEN 'open'
                WHEN pg_temp.u(n, 2) < 0.60 THEN 'in_progress'
                WHEN pg_temp.u(n, 2) < 0.80 THEN 'resolved'
                ELSE 'closed' END AS status,
           CASE WHEN pg_temp.u(n, 3) < 0.20 THEN 'low'
                WHEN pg_temp.u(n, 3) < 0.65 THEN 'medium'
                WHEN pg_temp.u(n, 3) < 0.90 THEN 'high'
                ELSE 'critical' END AS priority,
           CASE WHEN pg_temp.u(n, 4) < 0.40 THEN 'bug'
                WHEN pg_temp.u(n, 4) < 0.65 THEN 'feature'
                ELSE 'task' END AS type,
           md5('bench-user-' || (1 + floor(200 * pg_temp.u(n, 5))::int))::uuid
               AS creator_id,
           CASE WHEN pg_temp.u(n, 6) < 0.25 THEN NULL
                ELSE md5('bench-user-' || (11 + floor(150 * power(pg_temp.u(n, 7), 1.5))::int))::uuid
           END AS assignee_id,
           now() - interval '730 days' * (1 - n / :n_issues::float8)
               - interval '1 hour' * pg_temp.u(n, 8) AS created_at,
           interval '1 hour' * (1 + floor(2000 * pg_temp.u(n, 9))) AS work
      FROM generate_series(1::bigint, :n_issues::bigint) AS n
  ) s;

UPDATE projects p
   SET next_number = c.max + 1
  FROM (SELECT project_id, max(number) FROM issues GROUP BY project_id) c
 WHERE p.id = c.project_id AND p.key LIKE 'BP%';

INSERT INTO issue_events (issue_id, kind, actor_id, created_at)
SELECT id, 'created', creator_id, created_at
  FROM issues
 WHERE project_id IN (SELECT id FROM projects WHERE key LIKE 'BP%');

COMMIT;

-- As after a while in production (autovacuum): statistics for the planner
-- and an all-visible visibility map for index-only scans.
VACUUM (ANALYZE) users, projects, issues, issue_events;
