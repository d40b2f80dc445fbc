/*
 * it_res_timeline.c -- GET /api/v1/issues/{ref}/timeline: an issue's
 * events (issue_events, written by the resources that change the issue in
 * the same transaction as the change) in the order they happened.
 *
 * The order is (created_at, seq): seq is an identity column, unique and
 * increasing, so it breaks ties between the events of one transaction and
 * makes the keyset exact; issue_events_issue_created_idx (issue_id,
 * created_at, seq) returns the rows in that order. The cursor carries the
 * last event's id (a UUID, as it_page wants); the keyset looks its
 * (created_at, seq) up by the primary key, so nothing the client could
 * forge reaches a cast. One statement finds the issue by id or key
 * (IT_ISSUE_REF_WHERE, as the other issue routes) and reads the page of its
 * events: no issue row = 404, an issue without (more) events = one row with
 * NULL event columns.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>

#include "it_router.h"
#include "it_problem.h"
#include "it_db.h"
#include "it_dispatch.h"
#include "it_auth.h"
#include "it_page.h"
#include "it_issues.h"

/* One sort: the timeline order. `-created_at` gives the newest first. */
static const it_sort_t it_timeline_sorts[] = {
    { "created_at", "e.created_at", "timestamptz" },
    { NULL, NULL, NULL }
};

static const char *const it_timeline_params[] = { NULL };

#define IT_EVENT_JSON \
    "json_build_object('id', e.id, 'issue_id', e.issue_id, 'kind', e.kind," \
    " 'actor_id', e.actor_id, 'created_at', it_ts(e.created_at)," \
    " 'data', e.data)::text"

/* $1-$3 find the issue (IT_ISSUE_REF_WHERE: the id, or the key's project
 * and number), $4 include_deleted. Deleted issues have no timeline except
 * for admins who ask; a deleted project's issues stay readable. */
static const char it_timeline_issue[] =
    " FROM issues i WHERE " IT_ISSUE_REF_WHERE
    "   AND ($4::boolean OR NOT i.is_deleted)";

/* The cursor's event, by primary key: $5. */
static const char it_timeline_after_asc[] =
    " AND (e.created_at, e.seq) > (SELECT c.created_at, c.seq"
    " FROM issue_events c WHERE c.id = $5::uuid)";
static const char it_timeline_after_desc[] =
    " AND (e.created_at, e.seq) < (SELECT c.created_at, c.seq"
    " FROM issue_events c WHERE c.id = $5::uuid)";

static int it_timeline_not_found(it_resp_t *resp, const char *ref)
{
    return it_problem(resp, 404, "not_found", "No issue %s", ref);
}

static int it_timeline_read(it_req_t *req, it_resp_t *resp)
{
    const char *ref = req->params[0];
    const char *params[5] = { NULL, NULL, NULL, NULL, NULL };
    const char *dir, *sql, **items, **keys, **ids;
    json_t *errors = NULL;
    it_page_t pg;
    it_db_t *db;
    it_dbres_t *res;
    long total = -1;
    int rc, i, n = 4, k = 0;

    it_query_known(req, it_timeline_params, &errors);
    if ((rc = it_page_parse(req, resp, it_timeline_sorts, "created_at", &pg,
                            &errors)) != 0) {
        json_decref(errors);
        return rc;
    }
    if (errors) {
        return it_problem_validation(resp, errors);
    }
    if (pg.include_deleted && (rc = it_auth_require(req, resp, "deleted.read", 0))) {
        return rc;
    }
    if (it_is_uuid(ref)) {
        params[0] = ref;
    }
    else {
        /* PROJ-42: the router checked the shape (key, '-', 1-9 digits) */
        const char *dash = strrchr(ref, '-');
        params[1] = apr_pstrmemdup(req->pool, ref, (apr_size_t)(dash - ref));
        params[2] = dash + 1;
    }
    params[3] = pg.include_deleted ? "true" : "false";
    if (pg.after_id) {
        params[n++] = pg.after_id;
    }
    dir = pg.desc ? " DESC" : " ASC";
    /* Only static fragments: the lookup, the direction, the keyset. */
    sql = apr_pstrcat(req->pool,
                      "SELECT ev.doc, ev.id, ev.key FROM (SELECT i.id",
                      it_timeline_issue,
                      ") t LEFT JOIN LATERAL (SELECT " IT_EVENT_JSON " AS doc,"
                      " e.id, e.created_at::text AS key, e.created_at, e.seq"
                      " FROM issue_events e WHERE e.issue_id = t.id",
                      pg.after_id ? (pg.desc ? it_timeline_after_desc
                                             : it_timeline_after_asc) : "",
                      " ORDER BY e.created_at", dir, ", e.seq", dir, " ",
                      it_page_limit_sql(req->pool, &pg),
                      ") ev ON true ORDER BY ev.created_at", dir, ", ev.seq", dir,
                      NULL);
    if (!(db = it_req_db(req))) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_exec(db, &res, sql, n, params) != 0) {
        return it_problem_db(resp, db);
    }
    if (res->nrows == 0) {
        return it_timeline_not_found(resp, ref);
    }
    if (pg.include_total) {
        it_dbres_t *cnt;
        sql = apr_pstrcat(req->pool, "SELECT (SELECT count(*) FROM issue_events e"
                          " WHERE e.issue_id = i.id)", it_timeline_issue, NULL);
        if (it_db_exec(db, &cnt, sql, 4, params) != 0) {
            return it_problem_db(resp, db);
        }
        total = cnt->nrows ? atol(it_dbres_get(cnt, 0, 0)) : 0;
    }
    items = apr_palloc(req->pool, sizeof(*items) * ((size_t)res->nrows + 1));
    ids = apr_palloc(req->pool, sizeof(*ids) * ((size_t)res->nrows + 1));
    keys = apr_palloc(req->pool, sizeof(*keys) * ((size_t)res->nrows + 1));
    for (i = 0; i < res->nrows; i++) {
        if (!it_dbres_get(res, i, 0)) {
            continue;               /* the issue has no (more) events */
        }
        items[k] = it_dbres_get(res, i, 0);
        ids[k] = it_dbres_get(res, i, 1);
        keys[k] = it_dbres_get(res, i, 2);
        k++;
    }
    return it_page_respond(req, resp, &pg, items, keys, ids, k, total);
}

static const it_route_t it_timeline_routes[] = {
    { "GET", IT_API_BASE "/issues/{ref}/timeline", it_timeline_read, "timeline.read", 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

const it_resource_t it_res_timeline = { "timeline", it_timeline_routes };
