/*
 * it_res_reports.c -- aggregate reports over issues (manager, admin).
 *
 *   GET /api/v1/reports/top-assignees?limit=10&days=&project_id=
 *   GET /api/v1/reports/latency?days=30&project_id=
 *   GET /api/v1/reports/velocity?days=30&bucket=day|week&project_id=
 *
 * Definitions (docs/reports.md): an issue is "resolved" while resolved_at
 * is set (PATCH sets it on resolving, keeps it on resolved -> closed and
 * clears it on reopening), "open" while its status is open or in_progress.
 * Days and buckets are UTC. Deleted issues never count.
 *
 * Each report is one statement whose document PostgreSQL builds, so that
 * hours keep exactly two decimals (numeric, not a double re-printed by
 * jansson). Optional filters are "$n IS NULL OR ...": statements are
 * unnamed and planned with their parameter values, so the planner folds
 * the unused branch away and the range stays an index condition. The
 * indexes are issues_resolved_report_idx (001) and those of
 * sql/004_reports.up.sql and sql/005_report_indexes.up.sql.
 */
#include <string.h>
#include <apr_strings.h>

#include "it_db.h"
#include "it_dispatch.h"
#include "it_json.h"
#include "it_page.h"
#include "it_problem.h"
#include "it_router.h"

#define IT_REPORTS_PATH IT_API_BASE "/reports"
#define IT_REPORT_DAYS_MAX 3650

/* ---- SQL ---------------------------------------------------------------- */

/* $1 days (NULL: all time), $2 project (NULL: all), $3 limit. */
static const char it_sql_report_top_assignees[] =
    "WITH r AS ("
    "  SELECT i.assignee_id, count(*) AS resolved"
    "    FROM issues i"
    "   WHERE NOT i.is_deleted AND i.resolved_at IS NOT NULL"
    "     AND i.assignee_id IS NOT NULL"
    "     AND ($1::int IS NULL OR i.resolved_at >= now() - make_interval(days => $1::int))"
    "     AND ($2::uuid IS NULL OR i.project_id = $2::uuid)"
    "   GROUP BY i.assignee_id"
    "   ORDER BY resolved DESC, i.assignee_id"
    "   LIMIT $3::int)"
    " SELECT json_build_object('days', $1::int, 'project_id', $2::uuid,"
    "   'items', COALESCE(json_agg(json_build_object("
    "     'assignee_id', r.assignee_id, 'username', u.username,"
    "     'resolved', r.resolved,"
    "     'open', (SELECT count(*) FROM issues o"
    "               WHERE o.assignee_id = r.assignee_id AND NOT o.is_deleted"
    "                 AND o.status IN ('open', 'in_progress')"
    "                 AND ($2::uuid IS NULL OR o.project_id = $2::uuid)))"
    "     ORDER BY r.resolved DESC, r.assignee_id), '[]'))::text"
    "   FROM r JOIN users u ON u.id = r.assignee_id";

/* $1 days, $2 project. percentile_cont: linear interpolation between the
 * two nearest ranks, as the tests compute it; the array form sorts each
 * group once for the three percentiles. date_part (float8) rather than
 * extract (numeric since PostgreSQL 14): no numeric arithmetic per row.
 * The priority IN list names every priority (issues_priority_check), so it
 * selects nothing less; it lets issues_priority_resolved_idx (005) deliver
 * the rows grouped by priority, one resolved_at range per priority, with
 * no sort before the grouping. */
static const char it_sql_report_latency[] =
    "WITH r AS ("
    "  SELECT i.priority,"
    "         date_part('epoch', i.resolved_at - i.created_at) / 3600 AS h"
    "    FROM issues i"
    "   WHERE NOT i.is_deleted AND i.resolved_at IS NOT NULL"
    "     AND i.priority IN ('low', 'medium', 'high', 'critical')"
    "     AND i.resolved_at >= now() - make_interval(days => $1::int)"
    "     AND ($2::uuid IS NULL OR i.project_id = $2::uuid)),"
    " s AS ("
    "  SELECT r.priority, count(*) AS n, avg(h) AS mean,"
    "         percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY h) AS p"
    "    FROM r GROUP BY GROUPING SETS ((), (r.priority))),"
    " d AS ("
    "  SELECT k.priority, k.ord, json_build_object('count', COALESCE(s.n, 0),"
    "         'mean_hours', round(s.mean::numeric, 2),"
    "         'p50_hours', round(s.p[1]::numeric, 2),"
    "         'p90_hours', round(s.p[2]::numeric, 2),"
    "         'p99_hours', round(s.p[3]::numeric, 2)) AS doc"
    "    FROM (VALUES (NULL::text, 0), ('low', 1), ('medium', 2), ('high', 3),"
    "                 ('critical', 4)) AS k(priority, ord)"
    "    LEFT JOIN s ON s.priority IS NOT DISTINCT FROM k.priority)"
    " SELECT json_build_object('days', $1::int, 'project_id', $2::uuid,"
    "   'overall', (SELECT doc FROM d WHERE ord = 0),"
    "   'by_priority', (SELECT json_object_agg(priority, doc ORDER BY ord)"
    "                     FROM d WHERE ord > 0))::text";

/* The first day of the window: today (UTC) minus days - 1, for weekly
 * buckets moved back to its Monday. $1 days, $3 bucket length (1 or 7). */
#define IT_REPORT_TODAY "(now() AT TIME ZONE 'UTC')::date"
#define IT_REPORT_FIRST \
    "(CASE WHEN $3::int = 7" \
    " THEN date_trunc('week', (" IT_REPORT_TODAY " - ($1::int - 1))::timestamp)::date" \
    " ELSE " IT_REPORT_TODAY " - ($1::int - 1) END)"
/* $1 days, $2 project, $3 bucket length in days. Buckets are numbered by
 * an integer series (a timestamp series misleads the planner); bucket g
 * covers [first day + g * length, first day + (g + 1) * length) in UTC.
 * Each bucket's two counts are index-only count(*)s over that range of
 * issues_created_idx / issues_resolved_report_idx (with project_id= the
 * project's indexes): per issue only the index walk, no per-row
 * arithmetic, hashing or join. */
#define IT_REPORT_UTC(date) "((" date ")::timestamp AT TIME ZONE 'UTC')"
static const char it_sql_report_velocity[] =
    "SELECT json_build_object('days', $1::int, 'project_id', $2::uuid,"
    "   'bucket', CASE WHEN $3::int = 7 THEN 'week' ELSE 'day' END,"
    "   'from', to_char(" IT_REPORT_FIRST ", 'YYYY-MM-DD'),"
    "   'to', to_char(" IT_REPORT_TODAY ", 'YYYY-MM-DD'),"
    "   'items', json_agg(json_build_object("
    "     'start', to_char(b.d, 'YYYY-MM-DD'),"
    "     'created', (SELECT count(*) FROM issues i"
    "                  WHERE NOT i.is_deleted"
    "                    AND i.created_at >= b.lo AND i.created_at < b.hi"
    "                    AND ($2::uuid IS NULL OR i.project_id = $2::uuid)),"
    "     'resolved', (SELECT count(*) FROM issues i"
    "                   WHERE NOT i.is_deleted AND i.resolved_at IS NOT NULL"
    "                     AND i.resolved_at >= b.lo AND i.resolved_at < b.hi"
    "                     AND ($2::uuid IS NULL OR i.project_id = $2::uuid))"
    "     ) ORDER BY b.g))::text"
    "   FROM (SELECT g, " IT_REPORT_FIRST " + g * $3::int AS d,"
    "                " IT_REPORT_UTC(IT_REPORT_FIRST " + g * $3::int") " AS lo,"
    "                " IT_REPORT_UTC(IT_REPORT_FIRST " + (g + 1) * $3::int") " AS hi"
    "           FROM generate_series(0, (" IT_REPORT_TODAY " - " IT_REPORT_FIRST ")"
    "                                   / $3::int) AS g) AS b";

/* ---- parameters --------------------------------------------------------- */

static const char *const it_report_buckets[] = { "day", "week", NULL };

/* Unknown parameters (page/size/sort included: reports do not page). */
static void it_report_known(it_req_t *req, const char *const *known, json_t **errors)
{
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i, j;

    for (i = 0; i < arr->nelts; i++) {
        const char *const *k;
        int found = 0;
        for (k = known; *k && !found; k++) {
            found = !strcmp(*k, e[i].key);
        }
        if (!found) {
            *errors = it_problem_error_add(*errors, e[i].key, "unknown_parameter",
                                           "is not a known parameter");
            continue;
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(e[j].key, e[i].key)) {
                *errors = it_problem_error_add(*errors, e[i].key, "duplicate",
                                               "is given more than once");
                break;
            }
        }
    }
}

/* Runs a report statement and answers with its one-row document. */
static int it_report_run(it_req_t *req, it_resp_t *resp, const char *sql, int n,
                         const char *const *params)
{
    it_db_t *db = it_req_db(req);
    it_dbres_t *res;
    const char *doc;

    if (!db) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, sql, n, params) != 0) {
        return it_problem_db(resp, db);
    }
    doc = it_dbres_get(res, 0, 0);
    resp->json = NULL;
    resp->raw = doc;
    resp->raw_len = strlen(doc);
    resp->content_type = "application/json";
    resp->status = 200;
    apr_table_setn(resp->headers, "Cache-Control", "private, no-cache");
    return 200;
}

static const char *it_report_long(apr_pool_t *pool, long v)
{
    return apr_psprintf(pool, "%ld", v);
}

/* ---- handlers ----------------------------------------------------------- */

static int it_report_top_assignees(it_req_t *req, it_resp_t *resp)
{
    static const char *const known[] = { "limit", "days", "project_id", NULL };
    const char *params[3] = { NULL, NULL, NULL };
    json_t *errors = NULL;
    long days = 0, limit = 10;

    it_report_known(req, known, &errors);
    it_query_int(req, "limit", 1, 100, &limit, &errors);
    if (it_query_int(req, "days", 1, IT_REPORT_DAYS_MAX, &days, &errors) > 0) {
        params[0] = it_report_long(req->pool, days);
    }
    it_query_uuid(req, "project_id", &params[1], &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    params[2] = it_report_long(req->pool, limit);
    return it_report_run(req, resp, it_sql_report_top_assignees, 3, params);
}

static int it_report_latency(it_req_t *req, it_resp_t *resp)
{
    static const char *const known[] = { "days", "project_id", NULL };
    const char *params[2] = { NULL, NULL };
    json_t *errors = NULL;
    long days = 30;

    it_report_known(req, known, &errors);
    it_query_int(req, "days", 1, IT_REPORT_DAYS_MAX, &days, &errors);
    it_query_uuid(req, "project_id", &params[1], &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    params[0] = it_report_long(req->pool, days);
    return it_report_run(req, resp, it_sql_report_latency, 2, params);
}

static int it_report_velocity(it_req_t *req, it_resp_t *resp)
{
    static const char *const known[] = { "days", "bucket", "project_id", NULL };
    const char *params[3] = { NULL, NULL, NULL }, *bucket = "day";
    json_t *errors = NULL;
    long days = 30;

    it_report_known(req, known, &errors);
    it_query_int(req, "days", 1, IT_REPORT_DAYS_MAX, &days, &errors);
    it_query_uuid(req, "project_id", &params[1], &errors);
    it_query_enum(req, "bucket", it_report_buckets, &bucket, &errors);
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    params[0] = it_report_long(req->pool, days);
    params[2] = strcmp(bucket, "week") ? "1" : "7";
    return it_report_run(req, resp, it_sql_report_velocity, 3, params);
}

static const it_route_t it_reports_routes[] = {
    { "GET", IT_REPORTS_PATH "/top-assignees", it_report_top_assignees, "reports.read", 0 },
    { "GET", IT_REPORTS_PATH "/latency",       it_report_latency,       "reports.read", 0 },
    { "GET", IT_REPORTS_PATH "/velocity",      it_report_velocity,      "reports.read", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_reports = { "reports", it_reports_routes };
