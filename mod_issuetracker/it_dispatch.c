/*
 * it_dispatch.c -- one path from a parsed request to a filled response.
 */
#include <string.h>
#include <apr_strings.h>

#include "it_dispatch.h"
#include "it_problem.h"
#include "it_db.h"
#include "it_auth.h"

it_db_t *it_req_db(it_req_t *req)
{
    if (!req->db && req->db_acquire) {
        req->db = req->db_acquire(req);
    }
    return req->db;
}

int it_req_tx(it_req_t *req, it_resp_t *resp, it_db_tx_fn fn, void *ctx,
              int tries)
{
    it_db_t *db = it_req_db(req);

    if (!db) {
        return it_problem_db(resp, NULL);
    }
    if (it_db_tx(db, fn, ctx, tries) == -1) {
        apr_table_unset(resp->headers, "Location");
        apr_table_unset(resp->headers, "ETag");
        return it_problem_db(resp, db);
    }
    return resp->status;
}

int it_problem_db(it_resp_t *resp, const it_db_t *db)
{
    if (!db) {
        return it_problem(resp, 503, "database_unavailable",
                          "The database is not reachable; retry later");
    }
    if (db->err.status == 503) {
        return it_problem(resp, 503, db->err.code,
                          "The database is not available (%s); retry later",
                          db->err.conn_lost ? "connection lost"
                                            : db->err.sqlstate);
    }
    if (db->err.status == 409) {
        return it_problem(resp, 409, db->err.code,
                          "The request conflicts with existing data (%s)",
                          db->err.constraint ? db->err.constraint : "unique");
    }
    if (db->err.status == 422) {
        return it_problem(resp, 422, db->err.code,
                          "The request refers to missing or invalid data (%s)",
                          db->err.constraint ? db->err.constraint
                                             : db->err.sqlstate);
    }
    /* A 500 here is a bug in our SQL; the glue logs the message. */
    return it_problem(resp, 500, "database_error",
                      "Unexpected database error (SQLSTATE %s)", db->err.sqlstate);
}

int it_dispatch(const it_resource_t *const *resources, it_req_t *req,
                it_resp_t *resp)
{
    it_match_t m;

    it_router_find(resources, req->method, req->path, req->pool, &m);
    if (m.status == 404) {
        return it_problem(resp, 404, "not_found",
                          "There is no resource at this path");
    }
    if (m.status == 405) {
        apr_table_setn(resp->headers, "Allow", m.allow);
        if (!strcmp(req->method, "OPTIONS")) {
            resp->status = 204;
            return 204;
        }
        return it_problem(resp, 405, "method_not_allowed",
                          "%s is not allowed here; allowed: %s",
                          req->method, m.allow);
    }
    req->route = m.route;
    req->nparams = m.nparams;
    memcpy(req->params, m.params, sizeof(req->params));
    if (!(m.route->flags & IT_ROUTE_PUBLIC)) {
        int rc = it_auth_resolve(req, resp);
        if (rc != 0) {
            return rc;
        }
        /* The role must allow the action on at least its own objects; the
         * handler checks ownership once it has loaded the object. */
        if (m.route->action && !it_auth_may_attempt(req->caller, m.route->action)) {
            return it_auth_require(req, resp, m.route->action, 1);
        }
    }
    return m.route->handler(req, resp);
}
