/*
 * it_res_health.c -- GET /health for load balancers: no authentication,
 * 200 when the database answers, 503 + Retry-After when it does not.
 */
#include "it_router.h"
#include "it_problem.h"
#include "it_db.h"
#include "it_dispatch.h"

static const char it_health_sql[] = "SELECT 1";

static int it_health_get(it_req_t *req, it_resp_t *resp)
{
    it_db_t *db = it_req_db(req);

    if (!db || it_db_exec(db, NULL, it_health_sql, 0, NULL) != 0) {
        it_problem(resp, 503, "database_unavailable",
                   "The database is not reachable");
        it_problem_set(resp, "database", json_string("unreachable"));
        it_problem_set(resp, "version", json_string(IT_VERSION));
        return 503;
    }
    /* Never cached: a stale "ok" defeats the point of a health check. */
    apr_table_setn(resp->headers, "Cache-Control", "no-store");
    return it_resp_json(resp, 200, json_pack("{s:s, s:s, s:s}",
                        "status", "ok", "database", "ok",
                        "version", IT_VERSION));
}

static const it_route_t it_health_routes[] = {
    { "GET", "/health", it_health_get, NULL, IT_ROUTE_PUBLIC },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_health = { "health", it_health_routes };
