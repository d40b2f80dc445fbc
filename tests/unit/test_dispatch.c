/*
 * test_dispatch.c -- the request flow without httpd: 404 / 405 + Allow /
 * OPTIONS as problems or 204, the handler called with its parameters, the
 * caller check for non-public routes, database errors as problems.
 */
#include "it_test.h"
#include "it_dispatch.h"
#include "it_db.h"

#define U1 "0f8fad5b-d9cb-469f-a165-70867728950e"
#define U2 "7c9e6679-7425-40de-944b-e07fc1f90ae7"

static int handler_calls;

/* Echoes what the dispatcher gave it, so tests read it from the body. */
static int h_echo(it_req_t *req, it_resp_t *resp)
{
    json_t *params = json_array();
    int i;

    handler_calls++;
    for (i = 0; i < req->nparams; i++) {
        json_array_append_new(params, json_string(req->params[i]));
    }
    return it_resp_json(resp, 200, json_pack("{s:s, s:s, s:o}",
                        "method", req->method,
                        "pattern", req->route ? req->route->pattern : "",
                        "params", params));
}

/* Whatever status a handler returns is what dispatch returns. */
static int h_created(it_req_t *req, it_resp_t *resp)
{
    h_echo(req, resp);
    resp->status = 201;
    return 201;
}

#define PUB IT_ROUTE_PUBLIC

static const it_route_t things_routes[] = {
    { "GET",    "/api/v1/things",                        h_echo,    NULL, PUB },
    { "POST",   "/api/v1/things",                        h_created, NULL, PUB },
    { "GET",    "/api/v1/things/{id}",                   h_echo,    NULL, PUB },
    { "PATCH",  "/api/v1/things/{id}",                   h_echo,    NULL, PUB },
    { "DELETE", "/api/v1/things/{id}/labels/{label_id}", h_echo,    NULL, PUB },
    { "GET",    "/api/v1/issues/{ref}",                  h_echo,    NULL, PUB },
    { "GET",    "/api/v1/private",                       h_echo,    NULL, 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

static const it_resource_t things_res = { "things", things_routes };
static const it_resource_t *const test_resources[] = { &things_res, NULL };

/* ---- routing outcomes ---------------------------------------------------- */

typedef struct {
    const char *name;
    const char *method;
    const char *path;
    int status;                   /* returned and in resp */
    const char *code;             /* problem code, NULL: not a problem */
    const char *allow;            /* Allow header, NULL: none */
    int called;                   /* handler called */
    const char *pattern;          /* route the handler saw */
    int nparams;
    const char *params[IT_MAX_PATH_PARAMS];
} it_dispatch_case_t;

static const it_dispatch_case_t dispatch_cases[] = {
    { .name = "unknown path", .method = "GET", .path = "/api/v1/nothing",
      .status = 404, .code = "not_found" },
    { .name = "malformed id", .method = "GET", .path = "/api/v1/things/42",
      .status = 404, .code = "not_found" },
    { .name = "double slash", .method = "GET", .path = "/api/v1//things",
      .status = 404, .code = "not_found" },
    { .name = "OPTIONS on an unknown path", .method = "OPTIONS",
      .path = "/api/v1/nothing", .status = 404, .code = "not_found" },
    { .name = "wrong method", .method = "PUT", .path = "/api/v1/things",
      .status = 405, .code = "method_not_allowed",
      .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "wrong method on an item", .method = "DELETE",
      .path = "/api/v1/things/" U1, .status = 405,
      .code = "method_not_allowed",
      .allow = "GET, PATCH, HEAD, OPTIONS" },
    { .name = "OPTIONS", .method = "OPTIONS", .path = "/api/v1/things",
      .status = 204, .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "OPTIONS with trailing slash", .method = "OPTIONS",
      .path = "/api/v1/things/" U1 "/", .status = 204,
      .allow = "GET, PATCH, HEAD, OPTIONS" },
    { .name = "OPTIONS on a path without GET", .method = "OPTIONS",
      .path = "/api/v1/things/" U1 "/labels/" U2, .status = 204,
      .allow = "DELETE, OPTIONS" },
    { .name = "handler status is returned", .method = "POST",
      .path = "/api/v1/things/", .status = 201, .called = 1,
      .pattern = "/api/v1/things" },
    { .name = "no params", .method = "GET", .path = "/api/v1/things",
      .status = 200, .called = 1, .pattern = "/api/v1/things" },
    { .name = "one param", .method = "PATCH", .path = "/api/v1/things/" U1,
      .status = 200, .called = 1, .pattern = "/api/v1/things/{id}",
      .nparams = 1, .params = { U1 } },
    { .name = "two params in order", .method = "DELETE",
      .path = "/api/v1/things/" U2 "/labels/" U1, .status = 200, .called = 1,
      .pattern = "/api/v1/things/{id}/labels/{label_id}",
      .nparams = 2, .params = { U2, U1 } },
    { .name = "issue key param", .method = "GET",
      .path = "/api/v1/issues/PROJ-42", .status = 200, .called = 1,
      .pattern = "/api/v1/issues/{ref}", .nparams = 1,
      .params = { "PROJ-42" } },
    { .name = "non-public route, anonymous", .method = "GET",
      .path = "/api/v1/private", .status = 401, .code = "unauthorized" },
};

static void test_dispatch_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(dispatch_cases) / sizeof(dispatch_cases[0]); i++) {
        const it_dispatch_case_t *c = &dispatch_cases[i];
        it_req_t *req = it_test_req(pool, c->method, c->path);
        it_resp_t *resp = it_test_resp(pool);
        const char *allow;
        int rc, k;

        handler_calls = 0;
        rc = it_dispatch(test_resources, req, resp);
        IT_CHECK(bad, rc == c->status, "%s: returned %d, want %d", c->name, rc,
                 c->status);
        IT_CHECK(bad, resp->status == c->status, "%s: resp status %d, want %d",
                 c->name, resp->status, c->status);
        IT_CHECK(bad, handler_calls == c->called, "%s: handler called %d "
                 "times", c->name, handler_calls);
        allow = apr_table_get(resp->headers, "Allow");
        IT_CHECK(bad, it_test_streq(allow, c->allow), "%s: Allow \"%s\", "
                 "want \"%s\"", c->name, IT_S(allow), IT_S(c->allow));
        if (c->code) {
            IT_CHECK(bad, it_test_streq(resp->content_type, IT_PROBLEM_CTYPE),
                     "%s: content type %s", c->name, IT_S(resp->content_type));
            IT_CHECK(bad, it_test_streq(it_test_jstr(resp->json, "code"),
                                        c->code), "%s: code %s, want %s",
                     c->name, IT_S(it_test_jstr(resp->json, "code")), c->code);
            IT_CHECK(bad, json_integer_value(json_object_get(resp->json,
                     "status")) == c->status, "%s: status member", c->name);
        }
        if (c->status == 204) {
            IT_CHECK(bad, resp->json == NULL && resp->raw == NULL,
                     "%s: 204 with a body", c->name);
        }
        if (!c->called) {
            continue;
        }
        IT_CHECK(bad, req->route && it_test_streq(req->route->pattern,
                 c->pattern), "%s: req->route %s", c->name,
                 req->route ? req->route->pattern : "NULL");
        IT_CHECK(bad, it_test_streq(it_test_jstr(resp->json, "pattern"),
                 c->pattern), "%s: handler saw route %s", c->name,
                 IT_S(it_test_jstr(resp->json, "pattern")));
        IT_CHECK(bad, req->nparams == c->nparams, "%s: nparams %d, want %d",
                 c->name, req->nparams, c->nparams);
        for (k = 0; k < c->nparams && k < req->nparams; k++) {
            const char *seen = json_string_value(json_array_get(
                json_object_get(resp->json, "params"), (size_t)k));
            IT_CHECK(bad, it_test_streq(req->params[k], c->params[k]),
                     "%s: req->params[%d] %s, want %s", c->name, k,
                     IT_S(req->params[k]), c->params[k]);
            IT_CHECK(bad, it_test_streq(seen, c->params[k]),
                     "%s: handler saw params[%d] %s", c->name, k, IT_S(seen));
        }
    }
    IT_CHECK_DONE(bad);
}

/* The 405 problem names the method and the allowed ones. */
static void test_dispatch_405_problem(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "PUT", "/api/v1/things");
    it_resp_t *resp = it_test_resp(pool);

    assert_int_equal(it_dispatch(test_resources, req, resp), 405);
    it_assert_problem(resp, 405, "method_not_allowed");
    assert_true(it_test_contains(it_test_jstr(resp->json, "detail"), "PUT"));
    assert_true(it_test_contains(it_test_jstr(resp->json, "detail"),
                                 "GET, POST, HEAD, OPTIONS"));
    it_assert_str(apr_table_get(resp->headers, "Allow"),
                  "GET, POST, HEAD, OPTIONS");
    assert_null(req->route);
}

static void test_dispatch_404_problem(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "GET", "/api/v1/things/PROJ-1");
    it_resp_t *resp = it_test_resp(pool);

    assert_int_equal(it_dispatch(test_resources, req, resp), 404);
    it_assert_problem(resp, 404, "not_found");
    assert_null(apr_table_get(resp->headers, "Allow"));
    assert_null(req->route);
    assert_int_equal(req->nparams, 0);
}

/* Anonymous ("" as Apache passes it for OPTIONS) on a non-public route:
 * 401 with a challenge, before the handler or the database is touched. */
static int acquire_calls;

static it_db_t *acquire_none(it_req_t *req)
{
    (void)req;
    acquire_calls++;
    return NULL;
}

static void test_dispatch_private_route_needs_caller(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    static const char *const anonymous[] = { NULL, "" };
    size_t i;

    for (i = 0; i < 2; i++) {
        it_req_t *req = it_test_req(pool, "GET", "/api/v1/private");
        it_resp_t *resp = it_test_resp(pool);

        req->user = anonymous[i];
        req->db_acquire = acquire_none;
        handler_calls = 0;
        acquire_calls = 0;
        assert_int_equal(it_dispatch(test_resources, req, resp), 401);
        it_assert_problem(resp, 401, "unauthorized");
        assert_non_null(apr_table_get(resp->headers, "WWW-Authenticate"));
        assert_int_equal(handler_calls, 0);
        assert_int_equal(acquire_calls, 0);
    }
}

/* A caller can only be resolved with the database: without one, 503. */
static void test_dispatch_private_route_without_db(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "GET", "/api/v1/private");
    it_resp_t *resp = it_test_resp(pool);

    req->user = "alice";
    req->db_acquire = acquire_none;
    handler_calls = 0;
    assert_int_equal(it_dispatch(test_resources, req, resp), 503);
    it_assert_problem(resp, 503, "database_unavailable");
    assert_int_equal(handler_calls, 0);
}

/* ---- the real resource table --------------------------------------------- */

static void test_real_health_without_db(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "GET", "/health");
    it_resp_t *resp = it_test_resp(pool);

    req->db_acquire = acquire_none;
    assert_int_equal(it_dispatch(it_resources, req, resp), 503);
    it_assert_problem(resp, 503, "database_unavailable");
    it_assert_jstr(resp->json, "database", "unreachable");
}

static void test_real_health_options_and_405(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    it_req_t *req = it_test_req(pool, "OPTIONS", "/health");
    it_resp_t *resp = it_test_resp(pool);

    assert_int_equal(it_dispatch(it_resources, req, resp), 204);
    it_assert_str(apr_table_get(resp->headers, "Allow"), "GET, HEAD, OPTIONS");

    req = it_test_req(pool, "POST", "/health/");
    resp = it_test_resp(pool);
    assert_int_equal(it_dispatch(it_resources, req, resp), 405);
    it_assert_problem(resp, 405, "method_not_allowed");
}

/* The ErrorDocument target answers any method with the original status. */
static void test_real_problem_route(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    static const struct { const char *method; int redirect; int status;
                          const char *code; } rows[] = {
        { "GET",    401, 401, "unauthorized" },
        { "POST",   413, 413, "payload_too_large" },
        { "DELETE", 429, 429, "rate_limited" },
        { "PATCH",  403, 403, "forbidden" },
        { "GET",    0,   404, "not_found" },     /* reached directly */
    };
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        it_req_t *req = it_test_req(pool, rows[i].method,
                                    IT_API_BASE "/_problem");
        it_resp_t *resp = it_test_resp(pool);
        int rc;

        req->redirect_status = rows[i].redirect;
        rc = it_dispatch(it_resources, req, resp);
        IT_CHECK(bad, rc == rows[i].status && it_test_streq(
                 it_test_jstr(resp->json, "code"), rows[i].code),
                 "%s _problem (redirect %d): %d %s, want %d %s",
                 rows[i].method, rows[i].redirect, rc,
                 IT_S(it_test_jstr(resp->json, "code")), rows[i].status,
                 rows[i].code);
    }
    IT_CHECK_DONE(bad);
}

/* ---- it_problem_db ------------------------------------------------------- */

typedef struct {
    const char *sqlstate;
    const char *constraint;
    int status;
    const char *code;
    const char *detail_part;
} it_dberr_case_t;

static const it_dberr_case_t dberr_cases[] = {
    { "23505", "users_username_key", 409, "conflict", "users_username_key" },
    { "23505", NULL, 409, "conflict", NULL },
    { "23503", "issues_project_id_fkey", 422, "invalid_reference",
      "issues_project_id_fkey" },
    { "22P02", NULL, 422, "invalid_value", "22P02" },
    { "40001", NULL, 503, "serialization_failure", NULL },
    { "57014", NULL, 503, "query_timeout", NULL },
    { "57P01", NULL, 503, "database_unavailable", "connection lost" },
    { "08006", NULL, 503, "database_unavailable", "connection lost" },
    { "",      NULL, 503, "database_unavailable", "connection lost" },
    { "XX000", NULL, 500, "database_error", "XX000" },
};

static void test_problem_db_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(dberr_cases) / sizeof(dberr_cases[0]); i++) {
        const it_dberr_case_t *c = &dberr_cases[i];
        it_db_t *db = apr_pcalloc(pool, sizeof(*db));
        it_resp_t *resp = it_test_resp(pool);
        const char *detail;
        int rc;

        it_db_classify(&db->err, c->sqlstate);
        db->err.constraint = c->constraint;
        rc = it_problem_db(resp, db);
        detail = it_test_jstr(resp->json, "detail");
        IT_CHECK(bad, rc == c->status && resp->status == c->status,
                 "%s: %d, want %d", c->sqlstate, rc, c->status);
        IT_CHECK(bad, it_test_streq(it_test_jstr(resp->json, "code"), c->code),
                 "%s: code %s, want %s", c->sqlstate,
                 IT_S(it_test_jstr(resp->json, "code")), c->code);
        IT_CHECK(bad, it_test_streq(resp->content_type, IT_PROBLEM_CTYPE),
                 "%s: not a problem", c->sqlstate);
        IT_CHECK(bad, detail && it_test_contains(detail, c->detail_part),
                 "%s: detail \"%s\" lacks \"%s\"", c->sqlstate, IT_S(detail),
                 IT_S(c->detail_part));
    }
    IT_CHECK_DONE(bad);
}

static void test_problem_db_without_handle(void **state)
{
    it_resp_t *resp = it_test_resp(IT_POOL(state));

    assert_int_equal(it_problem_db(resp, NULL), 503);
    it_assert_problem(resp, 503, "database_unavailable");
}

/* ---- it_req_db ----------------------------------------------------------- */

static it_db_t fake_db;

static it_db_t *acquire_fake(it_req_t *req)
{
    (void)req;
    acquire_calls++;
    return &fake_db;
}

static void test_req_db_acquires_once(void **state)
{
    it_req_t *req = it_test_req(IT_POOL(state), "GET", "/health");

    assert_null(it_req_db(req));                 /* no glue: no database */
    req->db_acquire = acquire_fake;
    acquire_calls = 0;
    assert_ptr_equal(it_req_db(req), &fake_db);
    assert_ptr_equal(it_req_db(req), &fake_db);
    assert_int_equal(acquire_calls, 1);
    assert_ptr_equal(req->db, &fake_db);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_dispatch_table),
    IT_TEST(test_dispatch_405_problem),
    IT_TEST(test_dispatch_404_problem),
    IT_TEST(test_dispatch_private_route_needs_caller),
    IT_TEST(test_dispatch_private_route_without_db),
    IT_TEST(test_real_health_without_db),
    IT_TEST(test_real_health_options_and_405),
    IT_TEST(test_real_problem_route),
    IT_TEST(test_problem_db_table),
    IT_TEST(test_problem_db_without_handle),
    IT_TEST(test_req_db_acquires_once),
};

IT_TEST_MAIN("dispatch", tests)
