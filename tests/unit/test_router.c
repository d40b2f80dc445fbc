/*
 * test_router.c -- it_is_uuid, it_is_issue_key, it_router_find over a test
 * route table, and the invariants of the real it_resources table.
 */
#include "it_test.h"
#include "it_router.h"
#include "it_dispatch.h"

#define U1 "0f8fad5b-d9cb-469f-a165-70867728950e"
#define U2 "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define U1_UPPER "0F8FAD5B-D9CB-469F-A165-70867728950E"

/* ---- it_is_uuid / it_is_issue_key ---------------------------------------- */

typedef struct {
    const char *in;
    int want;
} it_pred_case_t;

static const it_pred_case_t uuid_cases[] = {
    { U1, 1 },
    { U1_UPPER, 1 },
    { "0f8fad5b-D9CB-469f-A165-70867728950e", 1 },    /* mixed case */
    { "00000000-0000-0000-0000-000000000000", 1 },
    { "", 0 },
    { "0f8fad5b-d9cb-469f-a165-70867728950", 0 },     /* 35 chars */
    { "0f8fad5b-d9cb-469f-a165-70867728950ee", 0 },   /* 37 chars */
    { "0f8fad5b-d9cb-469f-a165-70867728950e/", 0 },
    { "0f8fad5bd9cb-469f-a165-70867728950e-", 0 },    /* dash moved */
    { "0f8fad5b-d9cb469f-a165-70867728950e0", 0 },
    { "0f8fad5b-d9cb-469f-a16570867728950e0", 0 },
    { "0f8fad5b-d9cb-469f-a165_70867728950e", 0 },
    { "0f8fad5bd9cb469fa16570867728950e", 0 },        /* no dashes */
    { "{0f8fad5b-d9cb-469f-a165-70867728950e}", 0 },
    { "0f8fad5g-d9cb-469f-a165-70867728950e", 0 },    /* non-hex g */
    { "0f8fad5b-d9cb-469f-a165-7086772895 e", 0 },
    { "0x8fad5b-d9cb-469f-a165-70867728950e", 0 },
    { " 0f8fad5b-d9cb-469f-a165-70867728950e", 0 },
    { "------------------------------------", 0 },
    { "PROJ-42", 0 },
    { NULL, 0 },
};

static void test_is_uuid_table(void **state)
{
    size_t i;
    int bad = 0;

    (void)state;
    for (i = 0; i < sizeof(uuid_cases) / sizeof(uuid_cases[0]); i++) {
        int got = it_is_uuid(uuid_cases[i].in);
        IT_CHECK(bad, got == uuid_cases[i].want,
                 "it_is_uuid(\"%s\") = %d, want %d", IT_S(uuid_cases[i].in),
                 got, uuid_cases[i].want);
    }
    IT_CHECK_DONE(bad);
}

static const it_pred_case_t key_cases[] = {
    { "PROJ-42", 1 },
    { "AB-1", 1 },
    { "A1-7", 1 },                   /* digits after the first letter */
    { "ABCDEFGHIJ-123456789", 1 },   /* 10-char key, 9-digit number */
    { "PROJ-10", 1 },                /* zero inside the number is fine */
    { "proj-42", 0 },
    { "Proj-42", 0 },
    { "PROJ-0", 0 },
    { "PROJ-042", 0 },               /* leading zero */
    { "PROJ-", 0 },
    { "-42", 0 },
    { "P-42", 0 },                   /* keys have 2..10 characters */
    { "ABCDEFGHIJK-1", 0 },          /* 11-char key */
    { "1PROJ-42", 0 },
    { "PROJ-1234567890", 0 },        /* number longer than 9 digits */
    { "PROJ-42a", 0 },
    { "PROJ-42/", 0 },
    { "PROJ--42", 0 },
    { "PROJ_42", 0 },
    { "PROJ 42", 0 },
    { "PR_J-42", 0 },
    { "", 0 },
    { U1, 0 },
    { NULL, 0 },
};

static void test_is_issue_key_table(void **state)
{
    size_t i;
    int bad = 0;

    (void)state;
    for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        int got = it_is_issue_key(key_cases[i].in);
        IT_CHECK(bad, got == key_cases[i].want,
                 "it_is_issue_key(\"%s\") = %d, want %d", IT_S(key_cases[i].in),
                 got, key_cases[i].want);
    }
    IT_CHECK_DONE(bad);
}

/* ---- it_router_find over a test table ------------------------------------ */

static int h_test(it_req_t *req, it_resp_t *resp)
{
    (void)req;
    (void)resp;
    return 200;
}

static const it_route_t things_routes[] = {
    { "GET",    "/api/v1/things",                         h_test, NULL, 0 },
    { "POST",   "/api/v1/things",                         h_test, NULL, 0 },
    { "GET",    "/api/v1/things/{id}",                    h_test, NULL, 0 },
    { "PATCH",  "/api/v1/things/{id}",                    h_test, NULL, 0 },
    { "DELETE", "/api/v1/things/{id}",                    h_test, NULL, 0 },
    { "POST",   "/api/v1/things/bulk",                    h_test, NULL, 0 },
    { "DELETE", "/api/v1/things/{id}/labels/{label_id}",  h_test, NULL, 0 },
    { "GET",    "/api/v1/issues/{ref}",                   h_test, NULL, 0 },
    { "PUT",    "/api/v1/issues/{ref}/labels",            h_test, NULL, 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

static const it_route_t misc_routes[] = {
    { "GET",  "/api/v1/_error",    h_test, NULL,
      IT_ROUTE_ANYMETHOD | IT_ROUTE_INTERNAL },
    { "POST", "/api/v1/only-post", h_test, NULL, 0 },
    { "GET",  "/health",           h_test, NULL, IT_ROUTE_PUBLIC },
    { NULL, NULL, NULL, NULL, 0 }
};

static const it_resource_t things_res = { "things", things_routes };
static const it_resource_t misc_res = { "misc", misc_routes };
static const it_resource_t *const test_resources[] = {
    &things_res, &misc_res, NULL
};

typedef struct {
    const char *name;
    const char *method;
    const char *path;
    int status;                   /* 0 found, 404, 405 */
    const it_route_t *route;      /* when found */
    const char *allow;            /* exact Allow; NULL = none */
    int nparams;
    const char *params[IT_MAX_PATH_PARAMS];
} it_find_case_t;

static const it_find_case_t find_cases[] = {
    { .name = "exact match", .method = "GET", .path = "/api/v1/things",
      .status = 0, .route = &things_routes[0],
      .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "second method of the same path", .method = "POST",
      .path = "/api/v1/things", .status = 0, .route = &things_routes[1],
      .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "trailing slash accepted", .method = "GET",
      .path = "/api/v1/things/", .status = 0, .route = &things_routes[0],
      .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "trailing slash after a parameter", .method = "GET",
      .path = "/api/v1/things/" U1 "/", .status = 0,
      .route = &things_routes[2], .allow = "GET, PATCH, DELETE, HEAD, OPTIONS",
      .nparams = 1, .params = { U1 } },
    { .name = "two trailing slashes", .method = "GET",
      .path = "/api/v1/things//", .status = 404 },
    { .name = "double slash inside", .method = "GET",
      .path = "/api/v1//things", .status = 404 },
    { .name = "leading double slash", .method = "GET",
      .path = "//api/v1/things", .status = 404 },
    { .name = "unknown path", .method = "GET", .path = "/api/v1/nothing",
      .status = 404 },
    { .name = "prefix of a route", .method = "GET", .path = "/api/v1",
      .status = 404 },
    { .name = "route as prefix of path", .method = "GET",
      .path = "/api/v1/thingsx", .status = 404 },
    { .name = "extra segment", .method = "GET",
      .path = "/api/v1/things/" U1 "/extra", .status = 404 },
    { .name = "root", .method = "GET", .path = "/", .status = 404 },
    { .name = "empty path", .method = "GET", .path = "", .status = 404 },
    { .name = "relative path", .method = "GET", .path = "api/v1/things",
      .status = 404 },
    { .name = "NULL path", .method = "GET", .path = NULL, .status = 404 },
    { .name = "case matters in literals", .method = "GET",
      .path = "/API/v1/things", .status = 404 },
    { .name = "wrong method on a collection", .method = "DELETE",
      .path = "/api/v1/things", .status = 405,
      .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "wrong method on an item", .method = "POST",
      .path = "/api/v1/things/" U1, .status = 405,
      .allow = "GET, PATCH, DELETE, HEAD, OPTIONS" },
    { .name = "HEAD only listed when GET exists", .method = "GET",
      .path = "/api/v1/things/" U1 "/labels/" U2, .status = 405,
      .allow = "DELETE, OPTIONS" },
    { .name = "POST-only path", .method = "GET", .path = "/api/v1/only-post",
      .status = 405, .allow = "POST, OPTIONS" },
    { .name = "OPTIONS is a 405 for the router (dispatch answers 204)",
      .method = "OPTIONS", .path = "/api/v1/things", .status = 405,
      .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "methods are case sensitive", .method = "get",
      .path = "/api/v1/things", .status = 405,
      .allow = "GET, POST, HEAD, OPTIONS" },
    { .name = "{id} with a UUID", .method = "PATCH",
      .path = "/api/v1/things/" U1, .status = 0, .route = &things_routes[3],
      .allow = "GET, PATCH, DELETE, HEAD, OPTIONS",
      .nparams = 1, .params = { U1 } },
    { .name = "{id} keeps the UUID as sent", .method = "GET",
      .path = "/api/v1/things/" U1_UPPER, .status = 0,
      .route = &things_routes[2], .allow = "GET, PATCH, DELETE, HEAD, OPTIONS",
      .nparams = 1, .params = { U1_UPPER } },
    { .name = "{id} with a bad UUID is 404", .method = "GET",
      .path = "/api/v1/things/not-a-uuid", .status = 404 },
    { .name = "{id} with a truncated UUID is 404", .method = "GET",
      .path = "/api/v1/things/0f8fad5b-d9cb-469f-a165-70867728950",
      .status = 404 },
    { .name = "{id} does not take an issue key", .method = "GET",
      .path = "/api/v1/things/PROJ-42", .status = 404 },
    { .name = "literal next to {id}", .method = "POST",
      .path = "/api/v1/things/bulk", .status = 0, .route = &things_routes[5],
      .allow = "POST, OPTIONS" },
    { .name = "literal next to {id}, wrong method", .method = "GET",
      .path = "/api/v1/things/bulk", .status = 405, .allow = "POST, OPTIONS" },
    { .name = "{ref} accepts an issue key", .method = "GET",
      .path = "/api/v1/issues/PROJ-42", .status = 0,
      .route = &things_routes[7], .allow = "GET, HEAD, OPTIONS",
      .nparams = 1, .params = { "PROJ-42" } },
    { .name = "{ref} accepts a UUID", .method = "GET",
      .path = "/api/v1/issues/" U2, .status = 0, .route = &things_routes[7],
      .allow = "GET, HEAD, OPTIONS", .nparams = 1, .params = { U2 } },
    { .name = "{ref} followed by a literal", .method = "PUT",
      .path = "/api/v1/issues/AB-7/labels", .status = 0,
      .route = &things_routes[8], .allow = "PUT, OPTIONS",
      .nparams = 1, .params = { "AB-7" } },
    { .name = "{ref} rejects a lower-case key", .method = "GET",
      .path = "/api/v1/issues/proj-42", .status = 404 },
    { .name = "{ref} rejects key number 0", .method = "GET",
      .path = "/api/v1/issues/PROJ-0", .status = 404 },
    { .name = "{ref} rejects an empty segment", .method = "GET",
      .path = "/api/v1/issues/", .status = 404 },
    { .name = "two params in order", .method = "DELETE",
      .path = "/api/v1/things/" U1 "/labels/" U2, .status = 0,
      .route = &things_routes[6], .allow = "DELETE, OPTIONS",
      .nparams = 2, .params = { U1, U2 } },
    { .name = "two params in order, swapped", .method = "DELETE",
      .path = "/api/v1/things/" U2 "/labels/" U1, .status = 0,
      .route = &things_routes[6], .allow = "DELETE, OPTIONS",
      .nparams = 2, .params = { U2, U1 } },
    { .name = "second param bad", .method = "DELETE",
      .path = "/api/v1/things/" U1 "/labels/PROJ-1", .status = 404 },
    { .name = "ANYMETHOD route, its own method", .method = "GET",
      .path = "/api/v1/_error", .status = 0, .route = &misc_routes[0],
      .allow = "GET, HEAD, OPTIONS" },
    { .name = "ANYMETHOD route, another method", .method = "PUT",
      .path = "/api/v1/_error", .status = 0, .route = &misc_routes[0],
      .allow = "GET, HEAD, OPTIONS" },
    { .name = "ANYMETHOD route, OPTIONS", .method = "OPTIONS",
      .path = "/api/v1/_error/", .status = 0, .route = &misc_routes[0],
      .allow = "GET, HEAD, OPTIONS" },
    { .name = "second resource", .method = "GET", .path = "/health",
      .status = 0, .route = &misc_routes[2], .allow = "GET, HEAD, OPTIONS" },
};

static void test_router_find_table(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
        const it_find_case_t *c = &find_cases[i];
        it_match_t m;
        int k;

        it_router_find(test_resources, c->method, c->path, pool, &m);
        IT_CHECK(bad, m.status == c->status, "%s: %s %s: status %d, want %d",
                 c->name, c->method, IT_S(c->path), m.status, c->status);
        if (m.status != c->status) {
            continue;
        }
        IT_CHECK(bad, m.route == c->route, "%s: %s %s: wrong route (%s)",
                 c->name, c->method, IT_S(c->path),
                 m.route ? m.route->pattern : "none");
        if (c->status != 404) {
            IT_CHECK(bad, it_test_streq(m.allow, c->allow),
                     "%s: Allow \"%s\", want \"%s\"", c->name, IT_S(m.allow),
                     IT_S(c->allow));
        }
        IT_CHECK(bad, m.nparams == c->nparams, "%s: nparams %d, want %d",
                 c->name, m.nparams, c->nparams);
        for (k = 0; k < c->nparams && k < m.nparams; k++) {
            IT_CHECK(bad, it_test_streq(m.params[k], c->params[k]),
                     "%s: param %d \"%s\", want \"%s\"", c->name, k,
                     IT_S(m.params[k]), c->params[k]);
        }
    }
    IT_CHECK_DONE(bad);
}

/* A 404 says nothing about methods: no Allow, no route, no params. */
static void test_router_404_has_no_allow(void **state)
{
    it_match_t m;

    it_router_find(test_resources, "GET", "/api/v1/nothing", IT_POOL(state), &m);
    assert_int_equal(m.status, 404);
    assert_null(m.allow);
    assert_null(m.route);
    assert_int_equal(m.nparams, 0);
}

/* Parameters outlive the lookup: they are copies in the caller's pool, not
 * pointers into a buffer that the router reuses. */
static void test_router_params_are_pool_copies(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    char *path = apr_pstrdup(pool, "/api/v1/things/" U1 "/labels/" U2);
    it_match_t m;

    it_router_find(test_resources, "DELETE", path, pool, &m);
    assert_int_equal(m.status, 0);
    memset(path, 'x', strlen(path));
    assert_string_equal(m.params[0], U1);
    assert_string_equal(m.params[1], U2);
}

static void test_router_empty_table(void **state)
{
    static const it_resource_t *const none[] = { NULL };
    it_match_t m;

    it_router_find(none, "GET", "/health", IT_POOL(state), &m);
    assert_int_equal(m.status, 404);
    assert_null(m.allow);
}

/* ---- the real route table ------------------------------------------------ */

static const char *const known_methods[] = {
    "GET", "POST", "PUT", "PATCH", "DELETE", NULL
};

static int it_known_method(const char *m)
{
    const char *const *k;

    for (k = known_methods; m && *k; k++) {
        if (!strcmp(*k, m)) {
            return 1;
        }
    }
    return 0;
}

/* The pattern with each {placeholder} replaced by a value it accepts. */
static const char *it_sample_path(apr_pool_t *pool, const char *pattern)
{
    const char *p = pattern;
    const char *out = "";

    while (*p) {
        const char *open = strchr(p, '{');
        const char *close;
        if (!open) {
            return apr_pstrcat(pool, out, p, NULL);
        }
        close = strchr(open, '}');
        if (!close) {
            return NULL;
        }
        out = apr_pstrcat(pool, out, apr_pstrmemdup(pool, p, open - p),
                          !strncmp(open, "{ref}", 5) ? "PROJ-42" : U1, NULL);
        p = close + 1;
    }
    return out;
}

static void test_real_routes_are_well_formed(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const it_resource_t *const *res;
    int bad = 0, nroutes = 0;

    assert_non_null(it_resources[0]);
    for (res = it_resources; *res; res++) {
        const it_route_t *rt;
        const char *name = (*res)->name;

        IT_CHECK(bad, name && *name, "resource without a name");
        IT_CHECK(bad, (*res)->routes != NULL, "%s: no route table", IT_S(name));
        if (!(*res)->routes) {
            continue;
        }
        for (rt = (*res)->routes; rt->method; rt++) {
            const char *pat = rt->pattern;
            size_t len = pat ? strlen(pat) : 0;

            nroutes++;
            IT_CHECK(bad, pat && pat[0] == '/', "%s: pattern \"%s\" must start "
                     "with /", IT_S(name), IT_S(pat));
            IT_CHECK(bad, rt->handler != NULL, "%s %s: NULL handler",
                     rt->method, IT_S(pat));
            IT_CHECK(bad, it_known_method(rt->method), "%s %s: unknown method",
                     rt->method, IT_S(pat));
            if (!pat) {
                continue;
            }
            /* unreachable otherwise: the router refuses "//" and makes the
             * trailing slash optional only on the request side */
            IT_CHECK(bad, !strstr(pat, "//"), "%s: \"//\" in pattern", pat);
            IT_CHECK(bad, len <= 1 || pat[len - 1] != '/',
                     "%s: trailing slash in pattern", pat);
        }
    }
    assert_true(nroutes > 0);
    IT_CHECK_DONE(bad);
    (void)pool;
}

/* Every real route is reached by its own method on a sample path, so no
 * earlier row shadows it. */
static void test_real_routes_are_reachable(void **state)
{
    apr_pool_t *pool = IT_POOL(state);
    const it_resource_t *const *res;
    int bad = 0;

    for (res = it_resources; *res; res++) {
        const it_route_t *rt;
        for (rt = (*res)->routes; rt->method; rt++) {
            const char *path = it_sample_path(pool, rt->pattern);
            it_match_t m;

            IT_CHECK(bad, path != NULL, "%s: unbalanced {}", rt->pattern);
            if (!path) {
                continue;
            }
            it_router_find(it_resources, rt->method, path, pool, &m);
            IT_CHECK(bad, m.status == 0 && m.route == rt,
                     "%s %s: status %d, found %s", rt->method, path, m.status,
                     m.route ? m.route->pattern : "nothing");
            it_router_find(it_resources, rt->method,
                           apr_pstrcat(pool, path, "/", NULL), pool, &m);
            IT_CHECK(bad, m.status == 0 && m.route == rt,
                     "%s %s/: trailing slash not accepted", rt->method, path);
        }
    }
    IT_CHECK_DONE(bad);
}

static const struct CMUnitTest tests[] = {
    IT_TEST(test_is_uuid_table),
    IT_TEST(test_is_issue_key_table),
    IT_TEST(test_router_find_table),
    IT_TEST(test_router_404_has_no_allow),
    IT_TEST(test_router_params_are_pool_copies),
    IT_TEST(test_router_empty_table),
    IT_TEST(test_real_routes_are_well_formed),
    IT_TEST(test_real_routes_are_reachable),
};

IT_TEST_MAIN("router", tests)
